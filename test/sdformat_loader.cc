// Loads SDF files with libsdformat (sdformat12, as Debian 12 packages it) and reports what
// test/test_sdformat.py checks: every error, every visual and every mesh URI.
//   sdformat_loader FILE...    one line per item, tab-separated:
//     file <path>  |  error <message>  |  visual <scoped name> <geometry type>  |
//     mesh <scoped name> <uri>
// Exit status 0 when every file loaded without errors, 1 otherwise, 2 for no arguments.
// libsdformat validates the SDF itself (schema, names, poses); it does not open mesh files,
// so the test resolves the URIs.
#include <iostream>
#include <string>

#include <sdf/sdf.hh>

namespace {

void report_model(const sdf::Model &model, const std::string &scope) {
  const std::string name = scope + model.Name();
  for (uint64_t i = 0; i < model.LinkCount(); ++i) {
    const sdf::Link *link = model.LinkByIndex(i);
    for (uint64_t j = 0; j < link->VisualCount(); ++j) {
      const sdf::Visual *visual = link->VisualByIndex(j);
      const std::string scoped = name + "::" + link->Name() + "::" + visual->Name();
      const sdf::Geometry *geom = visual->Geom();
      const bool is_mesh = geom->Type() == sdf::GeometryType::MESH;
      std::cout << "visual\t" << scoped << '\t' << static_cast<int>(geom->Type()) << '\n';
      if (is_mesh) {
        std::cout << "mesh\t" << scoped << '\t' << geom->MeshShape()->Uri() << '\n';
      }
    }
  }
  for (uint64_t i = 0; i < model.ModelCount(); ++i) {
    report_model(*model.ModelByIndex(i), name + "::");
  }
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::cerr << "usage: sdformat_loader FILE...\n";
    return 2;
  }
  // Strict: a warning (an unknown element, a deprecated one) or an unrecognised element is an
  // error too, so the test fails on what Gazebo would only log and then ignore.
  sdf::ParserConfig config;
  config.SetWarningsPolicy(sdf::EnforcementPolicy::ERR);
  config.SetUnrecognizedElementsPolicy(sdf::EnforcementPolicy::ERR);
  config.SetDeprecatedElementsPolicy(sdf::EnforcementPolicy::ERR);
  int status = 0;
  for (int a = 1; a < argc; ++a) {
    std::cout << "file\t" << argv[a] << '\n';
    sdf::Root root;
    const sdf::Errors errors = root.Load(argv[a], config);
    for (const sdf::Error &e : errors) {
      std::string message = e.Message();
      for (char &c : message) {
        if (c == '\n' || c == '\t') c = ' ';
      }
      std::cout << "error\t" << message << '\n';
      status = 1;
    }
    for (uint64_t w = 0; w < root.WorldCount(); ++w) {
      const sdf::World *world = root.WorldByIndex(w);
      for (uint64_t m = 0; m < world->ModelCount(); ++m) {
        report_model(*world->ModelByIndex(m), "");
      }
    }
    if (root.Model() != nullptr) {
      report_model(*root.Model(), "");
    }
  }
  return status;
}
