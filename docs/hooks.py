r"""MkDocs hooks: MathJax is served by the site itself, the site takes the project's URLs from
``pyproject.toml``, and the study guide shows ``manual/`` beside ``torch_impl/``. (The home page is
``docs/index.md``, written for the site; the README is the repository's.)

MathJax 2 comes from the ``jupyter-server-mathjax`` package (the docs extra)
and is copied to ``assets/mathjax/``, so that no page depends on a CDN.

When ``[project.urls]`` has a ``Repository`` on GitHub, the header links it and every notebook page
shows an "Open in Colab" badge for that notebook. Every notebook page says how to run it from a clone.

A line ``<!-- side by side: FILE -->`` in a page becomes two tabs, ``manual/FILE`` and ``torch_impl/FILE``,
read from the files when the site is built, with the lines where the two differ highlighted.
"""
import difflib
import re
import shutil
import sys
from pathlib import Path

import jupyter_server_mathjax

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
COLAB = "https://colab.research.google.com/github/{repository}/blob/main/{path}"
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
SIDE_BY_SIDE = re.compile(r"^<!-- side by side: (\S+) -->$", re.MULTILINE)
PACKAGES = {"manual": "NumPy by hand", "torch_impl": "PyTorch"}
LOCAL = """<div class="admonition tip"><p class="admonition-title">Run it yourself</p>
<p>In a clone of the project with it installed (the README's Quick start):
<code>pip install notebook</code>, then <code>jupyter notebook notebooks/{name}</code>.
This page was executed when the site was built.</p></div>
"""


def repository():
    r"""``[project.urls]`` ``Repository`` from pyproject.toml, or None while it is not set."""
    with PYPROJECT.open("rb") as file:
        return tomllib.load(file)["project"].get("urls", {}).get("Repository")


def on_config(config):
    url = repository()
    if url:
        config.repo_url = url
    return config


def differing_lines(a, b):
    r"""The numbers, from 1, of the lines of ``a`` and of ``b`` outside the blocks the two have in common
    (``difflib``: the lines ``diff`` prints, give or take a blank line)."""
    changes = [change for change in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
               if change[0] != "equal"]
    return ([n for _, i1, i2, _, _ in changes for n in range(i1 + 1, i2 + 1)],
            [n for _, _, _, j1, j2 in changes for n in range(j1 + 1, j2 + 1)])


def side_by_side(name):
    r"""Markdown for two tabs, ``manual/NAME`` and ``torch_impl/NAME`` as they are now, the lines where they differ
    highlighted."""
    texts = [(ROOT / package / name).read_text(encoding="utf-8").splitlines() for package in PACKAGES]
    tabs = []
    for (package, framework), lines, marked in zip(PACKAGES.items(), texts, differing_lines(*texts), strict=True):
        code = "".join(f"    {line}\n" for line in lines)
        tabs.append(f'=== "{package}/ ({framework})"\n\n'
                    f'    ```python title="{package}/{name}" hl_lines="{" ".join(map(str, marked))}"\n{code}    ```\n')
    return "\n".join(tabs)


def on_page_markdown(markdown, page, config, files):
    return SIDE_BY_SIDE.sub(lambda match: side_by_side(match[1]), markdown)


def on_page_content(html, page, config, files):
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    note = LOCAL.format(name=Path(page.file.src_uri).name)
    url = config.repo_url                            # the Repository of pyproject.toml, set by on_config
    if url and url.startswith("https://github.com/"):
        colab = COLAB.format(repository=url.removeprefix("https://github.com/").rstrip("/"), path=page.file.src_uri)
        note = f'<p><a href="{colab}"><img src="{BADGE}" alt="Open In Colab"></a></p>\n' + note
    title_end = html.find("</h1>")                   # the note goes below the notebook's title
    at = title_end + len("</h1>") if title_end >= 0 else 0
    return html[:at] + note + html[at:]


def on_post_build(config):
    mathjax = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(mathjax, Path(config.site_dir) / "assets" / "mathjax", dirs_exist_ok=True)
