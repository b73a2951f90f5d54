"""The README and docs/*.md tell the truth about the repository.

- Every relative link resolves: the file or folder exists, and a `#anchor` matches a heading
  of the target page under GitHub's slug rules (duplicates get -1, -2, ...).
- Every docs page is reachable from the README or the docs index.
- Every `rl-f1 SUBCOMMAND --flag` written in the docs (code blocks and inline code) names a
  subcommand of `rl-f1 --help` and flags of that subcommand's `--help`, both run for real.
- Every `make TARGET` names a Makefile target; every `ros2 launch rl_f1_driver FILE name:=...`
  names a launch file of launch/ and arguments it declares; every inline `section.key`
  config key exists in config/defaults.yaml; every parameter in the ROS parameter table
  exists in config/ros.yaml; the circuits table lists what `rl-f1 circuits` lists.
- Code blocks marked `<!-- doc-test: run -->` (the line before the fence) are run, line by
  line, and must exit 0. Keep them cheap: no training here.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / 'README.md'] + sorted((ROOT / 'docs').glob('*.md'))
RUN_MARK = '<!-- doc-test: run -->'
FENCE = re.compile(r'^\s*(```|~~~)')
LINK = re.compile(r'!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
INLINE_CODE = re.compile(r'(`+)(.+?)\1')
RL_F1 = re.compile(r'(?:^|[\s/`(])rl-f1\s+([a-z][a-z-]*)((?:[^\n#;|&`]|\\\n)*)')
FLAG = re.compile(r'(?<![\w-])(--[a-z][a-z0-9-]*)')
MAKE = re.compile(r'^\s*make\s+([a-z][a-z-]*)')
LAUNCH = re.compile(r'ros2 launch rl_f1_driver ([\w.-]+)((?:\s+[A-Za-z_]+:=\S*)*)')


# ---------------------------------------------------------------- markdown parsing helpers

def split_markdown(text):
    """(prose lines, code blocks) of a Markdown text; a code block is (marker, lines), where
    marker is the HTML comment on the line before its fence, if any."""
    prose, blocks = [], []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            prose.append(lines[i])
            i += 1
            continue
        fence = m.group(1)
        marker = lines[i - 1].strip() if i and lines[i - 1].strip().startswith('<!--') else ''
        body = []
        i += 1
        while i < len(lines) and not lines[i].lstrip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        prose.append('')
        blocks.append((marker, body))
    return prose, blocks


def slug(heading):
    """GitHub's anchor for a heading's text: markup dropped, lower case, punctuation other
    than '-' and '_' removed, spaces to '-'."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)    # links: their text
    text = re.sub(r'<[^>]+>', '', text)                             # HTML tags
    text = text.replace('`', '')
    text = re.sub(r'(\*\*|__|\*|~~)', '', text)
    text = text.strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(text):
    """Every anchor of a Markdown page, duplicates numbered as GitHub does."""
    prose, _ = split_markdown(text)
    seen = {}
    result = set()
    for line in prose:
        m = re.match(r'^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$', line)
        if not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        result.add(base if n == 0 else f'{base}-{n}')
    for m in re.finditer(r'<a\s+(?:name|id)="([^"]+)"', text):
        result.add(m.group(1))
    return result


def links(text):
    """Link targets in the prose of a Markdown page (not in code)."""
    prose, _ = split_markdown(text)
    body = INLINE_CODE.sub('', '\n'.join(prose))
    return [m.group(1) for m in LINK.finditer(body)]


def broken_links(page, text):
    """'target: why' for every relative link of `page` (a Path) that does not resolve."""
    problems = []
    for target in links(text):
        if re.match(r'^[a-z][a-z0-9+.-]*:', target):   # http:, https:, mailto:
            continue
        path, _, anchor = target.partition('#')
        if not path:
            if anchor not in anchors(text):
                problems.append(f'{target}: no heading with anchor #{anchor} on this page')
            continue
        dest = (page.parent / path).resolve()
        if not dest.exists():
            problems.append(f'{target}: {dest} does not exist')
            continue
        if anchor:
            if dest.is_dir() or dest.suffix != '.md':
                problems.append(f'{target}: an anchor into a file that is not Markdown')
            elif anchor not in anchors(dest.read_text(encoding='utf-8')):
                problems.append(f'{target}: no heading with anchor #{anchor} in {dest.name}')
    return problems


def code_texts(text):
    """Every command-like text of a page: each code block's lines joined over trailing
    backslashes, and each inline code span."""
    prose, blocks = split_markdown(text)
    texts = []
    for _marker, body in blocks:
        texts.extend(re.sub(r'\\\n\s*', ' ', '\n'.join(body)).splitlines())
    for m in INLINE_CODE.finditer('\n'.join(prose)):
        texts.append(m.group(2))
    return texts


def _doc_id(page):
    return str(page.relative_to(ROOT))


def _text(page):
    return page.read_text(encoding='utf-8')


# ---------------------------------------------------------------- the parsers themselves

@pytest.mark.parametrize('heading, expected', [
    ('Scale out: actors and a learner', 'scale-out-actors-and-a-learner'),
    ("Gazebo's camera against the embedded renderer",
     'gazebos-camera-against-the-embedded-renderer'),
    ('Policy runtime: numpy, no TensorFlow', 'policy-runtime-numpy-no-tensorflow'),
    ('The `rl-f1 train` run_dir', 'the-rl-f1-train-run_dir'),
    ('Drive, compare', 'drive-compare'),
])
def test_slug_follows_github(heading, expected):
    assert slug(heading) == expected


def test_checker_finds_broken_links(tmp_path):
    (tmp_path / 'other.md').write_text('# Other page\n\n## A part\n\n## A part\n')
    page = tmp_path / 'page.md'
    text = ('# Page\n\n[ok](other.md#a-part) [dup](other.md#a-part-1) [self](#page)\n'
            '[gone](missing.md) [bad anchor](other.md#nowhere) [web](https://x.org/#y)\n'
            '```\n[in code](missing-too.md)\n# not a heading\n```\n'
            '`[inline](missing-three.md)` [self bad](#not-a-heading)\n')
    problems = broken_links(page, text)
    assert len(problems) == 3, problems
    assert any(p.startswith('missing.md:') for p in problems)
    assert any(p.startswith('other.md#nowhere:') for p in problems)
    assert any(p.startswith('#not-a-heading:') for p in problems)


def test_rl_f1_commands_are_found_in_code():
    text = ('Run `rl-f1 drive --policy P --video v.mp4`.\n\n```bash\n'
            '.venv/bin/rl-f1 train --config c.yaml \\\n    --steps 10  # --not-this\n```\n')
    found = [(m.group(1), FLAG.findall(m.group(2)))
             for t in code_texts(text) for m in RL_F1.finditer(t)]
    assert ('train', ['--config', '--steps']) in found
    assert ('drive', ['--policy', '--video']) in found


# ---------------------------------------------------------------- the docs

def test_there_are_docs_pages():
    names = {p.name for p in DOCS}
    for name in ('README.md', 'training.md', 'driving-and-recordings.md',
                 'ros2-and-gazebo.md', 'scale-out.md', 'circuits.md', 'benchmarks.md',
                 'troubleshooting.md'):
        assert name in names


@pytest.mark.parametrize('page', DOCS, ids=_doc_id)
def test_links_and_anchors_resolve(page):
    assert broken_links(page, _text(page)) == []


def test_every_docs_page_is_linked_from_the_readme_or_the_index():
    linked = set()
    for page in (ROOT / 'README.md', ROOT / 'docs' / 'README.md'):
        for target in links(_text(page)):
            path = target.partition('#')[0]
            if path:
                linked.add((page.parent / path).resolve())
    missing = [_doc_id(p) for p in DOCS[1:] if p.resolve() not in linked
               and p != ROOT / 'docs' / 'README.md']
    assert missing == []


def test_the_readme_is_a_front_page():
    text = _text(ROOT / 'README.md')
    assert len(text.splitlines()) <= 150, 'the README is the front page; details go to docs/'
    assert 'make train' in text and 'make test' in text and 'rl-f1 drive' in text
    assert '](docs/look_at_a_run.png)' in text


def test_no_pointer_to_the_withdrawn_ros2_build():
    """The ROS 2 build once beside the repository is gone: nothing may point at it."""
    mentions = []
    for path in [*DOCS, ROOT / '.ci' / 'run', ROOT / 'test' / 'run.sh', ROOT / 'Makefile',
                 ROOT / 'Dockerfile', *sorted((ROOT / '.github').rglob('*.yml'))]:
        if 'ros2-humble' in path.read_text(encoding='utf-8'):
            mentions.append(str(path.relative_to(ROOT)))
    assert mentions == []


@lru_cache(maxsize=None)
def _rl_f1():
    exe = Path(sys.executable).parent / 'rl-f1'
    if exe.exists():
        return [str(exe)]
    found = shutil.which('rl-f1')
    return [found] if found else [sys.executable, '-m', 'rl_f1_driver.cli']


@lru_cache(maxsize=None)
def _help(*words):
    proc = subprocess.run(_rl_f1() + [*words, '--help'], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _subcommands():
    m = re.search(r'\{([a-z,-]+)\}', _help())
    assert m, _help()
    return set(m.group(1).split(','))


def _doc_commands():
    """(page, subcommand, flags) for every `rl-f1 SUB ...` in the docs."""
    found = []
    for page in DOCS:
        for text in code_texts(_text(page)):
            for m in RL_F1.finditer(text):
                found.append((_doc_id(page), m.group(1), FLAG.findall(m.group(2))))
    return found


def test_docs_name_rl_f1_commands():
    subs = {sub for _page, sub, _flags in _doc_commands()}
    assert {'train', 'drive', 'circuits', 'worlds', 'bench', 'actor', 'learner',
            'replay-server'} <= subs


def test_every_rl_f1_subcommand_and_flag_in_the_docs_exists():
    subcommands = _subcommands()
    problems = []
    for page, sub, flags in _doc_commands():
        if sub not in subcommands:
            problems.append(f'{page}: rl-f1 {sub}: no such subcommand ({sorted(subcommands)})')
            continue
        usage = _help(sub)
        for flag in flags:
            if flag != '--help' and not re.search(re.escape(flag) + r'(?![\w-])', usage):
                problems.append(f'{page}: rl-f1 {sub} {flag}: not in `rl-f1 {sub} --help`')
    assert problems == []


def test_every_make_target_in_the_docs_exists():
    makefile = (ROOT / 'Makefile').read_text(encoding='utf-8')
    targets = set(re.findall(r'^([a-z][a-z-]*):', makefile, re.M))
    used = set()
    for page in DOCS:
        for text in code_texts(_text(page)):
            m = MAKE.match(text)
            if m:
                used.add(m.group(1))
    assert {'train', 'test'} <= used
    assert used - targets == set()


def _declared_launch_arguments():
    names = set()
    for path in [*(ROOT / 'launch').glob('*.py'), *(ROOT / 'rl_f1_driver').rglob('*.py')]:
        names.update(re.findall(r"DeclareLaunchArgument\(\s*'([A-Za-z_]+)'",
                                path.read_text(encoding='utf-8')))
    return names


def test_every_ros2_launch_in_the_docs_names_a_launch_file_and_its_arguments():
    declared = _declared_launch_arguments()
    assert {'circuit', 'simulator', 'rviz'} <= declared
    problems, seen = [], 0
    for page in DOCS:
        for text in code_texts(_text(page)):
            for m in LAUNCH.finditer(text):
                seen += 1
                if not (ROOT / 'launch' / m.group(1)).is_file():
                    problems.append(f'{_doc_id(page)}: no launch/{m.group(1)}')
                for name in re.findall(r'([A-Za-z_]+):=', m.group(2)):
                    if name not in declared:
                        problems.append(f'{_doc_id(page)}: {m.group(1)}: no argument {name}')
    assert seen >= 5
    assert problems == []


def test_config_keys_named_in_the_docs_exist():
    defaults = yaml.safe_load((ROOT / 'config' / 'defaults.yaml').read_text(encoding='utf-8'))
    sections = '|'.join(k for k, v in defaults.items() if isinstance(v, dict))
    key = re.compile(rf'^({sections})\.([a-z_]+)(?:[:=].*)?$')
    problems, seen = [], 0
    for page in DOCS:
        prose, _ = split_markdown(_text(page))
        for m in INLINE_CODE.finditer('\n'.join(prose)):
            k = key.match(m.group(2))
            if k:
                seen += 1
                if k.group(2) not in defaults[k.group(1)]:
                    problems.append(f'{_doc_id(page)}: {m.group(2)}')
    assert seen >= 5
    assert problems == []


def test_ros_parameters_in_the_docs_exist_in_ros_yaml():
    ros = yaml.safe_load((ROOT / 'config' / 'ros.yaml').read_text(encoding='utf-8'))
    known = {name for section in ros.values() for name in section['ros__parameters']}
    text = _text(ROOT / 'docs' / 'ros2-and-gazebo.md')
    table = text.split('| Parameter | Nodes | Default | Meaning |', 1)[1].split('\n\n', 1)[0]
    names = re.findall(r'^\| `([a-z_]+)` \|', table, re.M)
    assert len(names) > 30
    assert [n for n in names if n not in known] == []


def test_the_circuits_page_lists_what_rl_f1_circuits_lists():
    proc = subprocess.run(_rl_f1() + ['circuits'], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    table = re.findall(r'^\| `([a-z_]+)` \|', _text(ROOT / 'docs' / 'circuits.md'), re.M)
    assert table
    listed = set(re.findall(r'^\s*([a-z_]+)\b', proc.stdout, re.M))
    assert set(table) <= listed, proc.stdout


def _marked_commands():
    commands = []
    for page in DOCS:
        _prose, blocks = split_markdown(_text(page))
        for marker, body in blocks:
            if marker != RUN_MARK:
                continue
            for line in re.sub(r'\\\n\s*', ' ', '\n'.join(body)).splitlines():
                line = line.split('  #', 1)[0].strip()
                if line and not line.startswith('#'):
                    commands.append((_doc_id(page), line))
    return commands


def test_there_are_marked_commands():
    assert len(_marked_commands()) >= 2


@pytest.mark.parametrize('page, command', _marked_commands())
def test_marked_doc_commands_run(page, command):
    words = shlex.split(command)
    if words[0].endswith('rl-f1'):
        words = _rl_f1() + words[1:]
    env = dict(os.environ, MPLBACKEND='Agg')
    proc = subprocess.run(words, capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env=env)
    assert proc.returncode == 0, f'{page}: {command}\n{proc.stdout}\n{proc.stderr}'
    assert proc.stdout.strip(), f'{page}: {command} printed nothing'


def test_source_paths_named_in_the_docs_exist():
    """`learn/trainer.py`, `config/ros.yaml`, `test/gazebo/run_smoke.sh`, `test_sdformat.py`:
    a path written in the docs is found from the repository root, the package or test/."""
    path = re.compile(r'^[\w./-]+\.(?:py|sh|cc|rviz|yml|yaml|json)$')
    problems, seen = [], 0
    for page in DOCS:
        for text in code_texts(_text(page)):
            for word in text.split():
                word = word.strip('`()[],;:').replace('src/rl_f1_driver/', '', 1)  # image
                if not path.match(word) or re.search(r'[A-Z]{3}', word) or (
                        '/' not in word and not word.startswith('test_')):
                    continue
                if word.startswith(('/', 'runs/')) or word.endswith('config.yaml'):
                    continue   # outputs and absolute paths, not sources
                seen += 1
                if not any((ROOT / base / word).exists() for base in ('', 'rl_f1_driver', 'test')):
                    problems.append(f'{_doc_id(page)}: {word}')
    assert seen >= 20
    assert sorted(set(problems)) == []
