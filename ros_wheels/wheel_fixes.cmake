# Included after project() of each interface package built on the PyPI ROS 2 wheels
# (CMAKE_PROJECT_INCLUDE, set by ros_wheels/install.sh).
#
# The wheels' exported Python-support targets (<pkg>::<pkg>__rosidl_generator_py) name the
# include folders of the machine the wheels were built on (/opt/python/cp3XX-cp3XX/...), which
# do not exist here, and CMake refuses an imported target with a missing include folder. Our
# generated Python extension gets Python's and numpy's headers from rosidl_generator_py itself,
# so those folders are dropped once every package has been found (end of the directory).
function(rl_f1_drop_missing_include_dirs)
  get_property(targets DIRECTORY PROPERTY IMPORTED_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT dirs)
      continue()
    endif()
    set(kept "")
    foreach(dir IN LISTS dirs)
      if(EXISTS "${dir}" OR dir MATCHES "^\\$<")
        list(APPEND kept "${dir}")
      endif()
    endforeach()
    set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${kept}")
  endforeach()
endfunction()
cmake_language(DEFER CALL rl_f1_drop_missing_include_dirs)
