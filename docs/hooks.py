r"""MkDocs hooks: the math is MathML written when the site is built, the site takes the project's URLs from
``pyproject.toml``, and the study guide shows ``manual/`` beside ``torch_impl/``. (The home page is
``docs/index.md``, written for the site; the README is the repository's.)

Every formula, ``$...$`` and ``$$...$$`` in the pages (kept as TeX by ``pymdownx.arithmatex``) and in the
notebooks' text, becomes MathML (``math-core``), which browsers draw themselves, in the math font the site
serves (extra.css): no script, nothing asked of another site. A displayed formula may wrap where its TeX has
a ``\qquad`` outside braces, as on paper, so that it fits a phone; what is still too wide scrolls in its own
box (extra.css).

A notebook's figures are written beside its page as PNG files, each a link to itself at full size (as the pages'
figures are).

When ``[project.urls]`` has a ``Repository`` on GitHub, the header links it and every notebook page
shows an "Open in Colab" badge for that notebook. Every notebook page links its ``.ipynb`` and says how to
run it from a clone.

A line ``<!-- side by side: FILE -->`` in a page becomes two tabs, ``manual/FILE`` and ``torch_impl/FILE``,
read from the files when the site is built, with the lines where the two differ highlighted.

In the pages' tables, inline code wraps only where a ``<wbr>`` put here lets it (extra.css): at its spaces, after a
``.``, ``/``, ``_`` or ``-`` inside a name and before a ``(``, so that a phone's narrow column breaks
``manual.NeuralNetwork.backward`` into its names, not letter by letter.
"""
import base64
import difflib
import itertools
import re
import sys
from html import unescape
from pathlib import Path, PurePath

from math_core import LatexError, LatexToMathML
from mkdocs.exceptions import PluginError

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
<p><a href="{name}" download>Download {name}</a> (stored without outputs) and run it with the project installed
(the README's Quick start), or in a clone: <code>pip install notebook</code>, then
<code>jupyter notebook notebooks/{name}</code>. {shown}</p></div>
"""
EXECUTED = "This page was executed when the site was built."
NOT_EXECUTED = "This page shows it as you get it, before it is run."

MATHML = LatexToMathML(fancy_error=False)
ARITHMATEX = re.compile(r'<(span|div) class="arithmatex">\\[(\[](.*?)\\[)\]]</\1>', re.DOTALL)   # \( \) and \[ \]
NOTEBOOK_MATH = re.compile(r"<p>\$\$(.+?)\$\$</p>|\$(.+?)\$", re.DOTALL)     # a paragraph of $$...$$, and $...$
NOTEBOOK_CELL = re.compile(r'(?=<div class="jp-Cell )')
NBCONVERT_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.DOTALL)
# What opens and closes a group in TeX, and the \qquad a displayed formula may wrap at outside any group.
GROUPING = re.compile(r"\\[{}]|[{}]|\\(?:begin|end|left|right|qquad)(?![A-Za-z])")
DEPTH = {"{": 1, "}": -1, r"\begin": 1, r"\end": -1, r"\left": 1, r"\right": -1}
PNG_OUTPUT = re.compile(r'<img ([^>]*)src="data:image/png;base64,([^"]+)"([^>]*)>')
TABLE = re.compile(r"<table>.*?</table>", re.DOTALL)   # the pages' own tables (Markdown's, mkdocstrings'), not code's
INLINE_CODE = re.compile(r"<code>(.*?)</code>", re.DOTALL)
TAG = re.compile(r"""(<(?:"[^"]*"|'[^']*'|[^>"'])*>)""")   # a tag; a > in quoted attributes is not its end
CODE_BREAK = re.compile(r"""                     # where a table's code may wrap
    (?<=\s)(?!\s)                                   # after a space
  | (?<=[\w)\]][./])(?=[A-Za-z_])                   # after the . or / of a.b, f().b, a[i].b, a/b; not 0.5
  | (?<=\w-)(?=[A-Za-z_])                           # after the - of cross-entropy, --batch-size; not --lr, 1e-8
  | (?<=_)(?=[^\W_])                                # after a _ before a letter or digit; not inside __
  | (?<=\w)(?=\()                                   # before the ( of a call
""", re.VERBOSE)


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


def pieces(tex):
    r"""``tex`` cut at each ``\qquad`` outside braces, environments and ``\left ... \right``."""
    cut, depth, start = [], 0, 0
    for token in GROUPING.finditer(tex):
        if token[0] == r"\qquad" and depth == 0:
            cut.append(tex[start:token.start()])
            start = token.end()
        depth += DEPTH.get(token[0], 0)
    return [piece for piece in [*cut, tex[start:]] if piece.strip()]


def mathml(tex, display, page):
    r"""The MathML of ``tex`` (HTML-escaped, as the page has it); a displayed formula as a ``div`` of its pieces."""
    tex = unescape(tex)
    try:
        if not display:
            return MATHML.convert_with_local_state(tex, displaystyle=False)
        formulas = [MATHML.convert_with_local_state(piece, displaystyle=True) for piece in pieces(tex)]
    except LatexError as error:
        raise PluginError(f"{page.file.src_uri}: the formula {tex!r}: {error}") from None
    return '<div class="formula">' + "".join(f"<span>{formula}</span>" for formula in formulas) + "</div>"


def notebook_math(cell, page):
    r"""A notebook cell's HTML with the ``$...$`` of a Markdown cell as MathML."""
    if not cell.startswith('<div class="jp-Cell jp-MarkdownCell'):
        return cell
    return NOTEBOOK_MATH.sub(lambda match: mathml(match[1] or match[2], match[1] is not None, page), cell)


def figures_as_files(html, page, config):
    r"""The notebook's PNG outputs written beside its page as ``figure-N.png``, each shown as a link to itself."""
    folder = Path(config.site_dir) / PurePath(page.file.dest_uri).parent
    folder.mkdir(parents=True, exist_ok=True)
    numbers = itertools.count(1)

    def write(match):
        name = f"figure-{next(numbers)}.png"
        (folder / name).write_bytes(base64.b64decode(match[2]))
        return f'<a href="{name}"><img {match[1]}src="{name}"{match[3]}></a>'
    return PNG_OUTPUT.sub(write, html)


def executed(page, config):
    r"""Whether mkdocs-jupyter ran this notebook for its page (``execute``, less ``execute_ignore``)."""
    jupyter = config.plugins["mkdocs-jupyter"].config
    return jupyter["execute"] and not any(PurePath(page.file.abs_src_path).match(pattern)
                                          for pattern in jupyter["execute_ignore"])


def notebook_page(html, page, config):
    r"""A notebook's page: its math as MathML, without nbconvert's MathJax loader, its figures as files, and a note
    under its title that links the notebook (and Colab, once the repository is published)."""
    html = "".join(notebook_math(cell, page) for cell in NOTEBOOK_CELL.split(NBCONVERT_MATHJAX.sub("", html)))
    html = figures_as_files(html, page, config)
    name = PurePath(page.file.src_uri).name
    note = LOCAL.format(name=name, shown=EXECUTED if executed(page, config) else NOT_EXECUTED)
    url = config.repo_url                            # the Repository of pyproject.toml, set by on_config
    if url and url.startswith("https://github.com/"):
        colab = COLAB.format(repository=url.removeprefix("https://github.com/").rstrip("/"), path=page.file.src_uri)
        note = f'<p><a href="{colab}"><img src="{BADGE}" alt="Open In Colab"></a></p>\n' + note
    title_end = html.find("</h1>")                   # the note goes below the notebook's title
    at = title_end + len("</h1>") if title_end >= 0 else 0
    return html[:at] + note + html[at:]


def breakable(code):
    r"""The HTML ``code`` with a ``<wbr>`` at each ``CODE_BREAK`` of its text (not of its tags)."""
    pieces = TAG.split(code)                         # text, tag, text, ...
    return "".join(piece if i % 2 else CODE_BREAK.sub("<wbr>", piece) for i, piece in enumerate(pieces))


def table_code_breaks(html):
    r"""``html`` with the inline code of its tables ``breakable``."""
    return TABLE.sub(lambda table: INLINE_CODE.sub(lambda code: f"<code>{breakable(code[1])}</code>", table[0]), html)


def on_page_content(html, page, config, files):
    html = ARITHMATEX.sub(lambda match: mathml(match[2], match[1] == "div", page), html)
    html = table_code_breaks(html)
    if page.file.src_uri.endswith(".ipynb"):
        html = notebook_page(html, page, config)
    return html
