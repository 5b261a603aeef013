"""Each addon's README.rst, made from its ``readme/`` fragments (as OCA's addons are), so that
PyPI and the app store show what the addon does: ``make readme`` writes them, ``make lint``
checks that they are up to date.

The fragments are Markdown of a small kind (headings, paragraphs, lists, **bold**, *italic*,
`code`, [links](url)), written in reStructuredText the same way.
"""

import ast
import os
import re
import sys

REPO_ADDONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "addons")
SECTIONS = (("DESCRIPTION.md", None), ("CONFIGURE.md", "Configuration"), ("USAGE.md", "Usage"),
            ("CONTRIBUTORS.md", "Contributors"))
# The Odoo series every addon of this repository runs on, from the same source; the manifests
# hold the version without the series (docs/versions.md), which Odoo prefixes with its own.
SUPPORTED_SERIES = ("18.0", "19.0")
HEADING_MARKS = {1: "=", 2: "-", 3: "~", 4: "^"}


def _inline(text):
    text = re.sub(r"`([^`]+)`", r"``\1``", text)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"`\1 <\2>`__", text)
    return text


def markdown_to_rst(markdown, level_offset=0):
    lines = []
    for line in markdown.splitlines():
        heading = re.match(r"^(#{1,4})\s+(.*)$", line)
        if heading:
            title = _inline(heading.group(2).strip())
            level = min(len(heading.group(1)) + level_offset, 4)
            lines += [title, HEADING_MARKS[level] * len(title)]
            continue
        # reStructuredText wants a blank line between a paragraph and a list
        if line.startswith("- ") and lines and lines[-1].strip() and not lines[-1].startswith(("- ", "  ")):
            lines.append("")
        lines.append(_inline(line))
    return "\n".join(lines).strip() + "\n"


def readme_of(addon):
    folder = os.path.join(REPO_ADDONS, addon)
    with open(os.path.join(folder, "__manifest__.py"), encoding="utf-8") as fh:
        manifest = ast.literal_eval(fh.read())
    title = manifest["name"]
    parts = [f"{'=' * len(title)}\n{title}\n{'=' * len(title)}\n", f"*{manifest.get('summary', '')}*\n",
             f"Odoo {' and '.join(SUPPORTED_SERIES)} · version {manifest['version']} "
             f"({', '.join(f'{series}.' + manifest['version'] for series in SUPPORTED_SERIES)})"
             f" · license {manifest['license']}\n",
             "This file is generated from ``readme/`` by ``make readme``: edit those instead.\n"]
    for fragment, section in SECTIONS:
        path = os.path.join(folder, "readme", fragment)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        if section:
            parts.append(f"{section}\n{'=' * len(section)}\n")
        parts.append(markdown_to_rst(text, level_offset=1))
    return "\n".join(parts)


def addons():
    return sorted(name for name in os.listdir(REPO_ADDONS)
                  if os.path.isfile(os.path.join(REPO_ADDONS, name, "__manifest__.py")))


def main(argv):
    check = "--check" in argv
    stale = []
    for addon in addons():
        path = os.path.join(REPO_ADDONS, addon, "README.rst")
        content = readme_of(addon)
        current = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if current != content:
            stale.append(os.path.relpath(path, os.path.dirname(REPO_ADDONS)))
            if not check:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(content)
    if check and stale:
        print("out of date (run make readme): " + ", ".join(stale))
        return 1
    if check:
        import docutils.core  # noqa: PLC0415 - the project's environment has it (Odoo needs it)

        for addon in addons():
            path = os.path.join(REPO_ADDONS, addon, "README.rst")
            with open(path, encoding="utf-8") as fh:
                docutils.core.publish_string(fh.read(), source_path=path, writer_name="null",
                                             settings_overrides={"report_level": 2, "halt_level": 2})
    if not check:
        print("\n".join(f"wrote {path}" for path in stale) or "README.rst files up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
