"""Blueprint text made safe for where it is printed: CI logs, GitHub annotations, Markdown.

Everything a blueprint holds reaches reviewers: justifications, descriptions, approvers, the
values quoted in error messages. A pull request controls that text, so each output escapes it
for its reader:

- **one line of a log** (`one_line`): no line breaks or other control characters, so a
  justification cannot start a new log line such as `::error::` (a GitHub workflow command) or
  forge a line of `mesh validate` output; bidirectional-override characters are shown as their
  code points, so text cannot render reversed in front of a reviewer ("Trojan source").
- **a GitHub annotation** (`annotation_property`, `annotation_message`): GitHub's own escapes
  for workflow command properties and messages (`%`, CR, LF, and `:` `,` in properties).
- **Markdown** (`md_text`, `md_code`): one line (line breaks become spaces); `|` cannot end a
  table cell; no raw HTML (`<`, `&`; so no `<!--` hiding the rest of a PR comment, no `<img>`
  pixel); no backtick opening a code span; no link or image; no `@mention` pinging people.
  Emphasis (`*`, `_`) is left alone: it can only make text bold or italic, and escaping it would
  clutter every name with an underscore.
- **wrapped Markdown** (`md_wrap`): escaped text over several source lines of a list item or a
  quote; a continuation line never starts with what would open a block there (a heading, a
  quote, a list item, a thematic break, a fence), so wrapping cannot end the item early.
"""

from __future__ import annotations

import re
import textwrap

_BREAKS = re.compile("\r\n|[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _codepoint(m: re.Match) -> str:
    return f"<U+{ord(m.group()):04X}>"


def one_line(text: object) -> str:
    """`text` as one line of a log: line breaks shown as `\\n`, other controls as code points."""
    out = _BREAKS.sub("\\\\n", str(text))
    out = _CONTROL.sub(_codepoint, out)
    return _BIDI.sub(_codepoint, out)


def annotation_property(text: object) -> str:
    """A value of a GitHub workflow command property (`file=`, `title=`)."""
    return (
        one_line(text)
        .replace("%", "%25")
        .replace("\r", "%0D")
        .replace("\n", "%0A")
        .replace(":", "%3A")
        .replace(",", "%2C")
    )


def annotation_message(text: object) -> str:
    """The message of a GitHub workflow command (after `::`)."""
    return one_line(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


# the ASCII punctuation that lets inline text escape its place in Markdown (a code span, a link
# or an image, a table cell); a backslash makes each literal. Block syntax (#, -, >, 1.) only
# counts at the start of a line, and `md_text` output is never at the start of one.
_MD_PUNCTUATION = re.compile(r"([\\`\[\]|])")
# a GitHub @mention: an @ not after a word character (an e-mail address is not one)
_MENTION = re.compile(r"(?<![\w.+-])@")


def md_text(text: object) -> str:
    """`text` inline in Markdown (a table cell, a list item): literal, one line, no HTML."""
    out = _CONTROL.sub(_codepoint, _BIDI.sub(_codepoint, " ".join(str(text).splitlines())))
    out = out.replace("&", "&amp;").replace("<", "&lt;")
    out = _MD_PUNCTUATION.sub(r"\\\1", out)
    return _MENTION.sub("@\u200b", out)


def md_code(text: object) -> str:
    """`text` as inline code: an HTML `<code>` element, which no backtick can close early."""
    out = one_line(text)
    out = out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = out.replace("|", "&#124;").replace("`", "&#96;").replace("@", "&#64;")
    return f"<code>{out}</code>"


# what opens a block at the start of a line: a heading, quote, list item, thematic break or
# setext underline, a fence, an ordered list item (digits then . or ))
_BLOCK_START = re.compile(r"^(?:[#>+*=_~-]|\d{1,9}[.)])")


def md_wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    """`text` (already escaped: `md_text`, `md_code`) as Markdown source lines of at most about
    `width` characters: `first` starts the first line (`"- "`, `"> - "`), `rest` each
    continuation (`"  "`, `">   "`). Words are never split (a code span or an escape stays
    whole); a continuation that would open a block has its first character escaped."""
    lines = textwrap.wrap(
        text,
        width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]
    out = [lines[0]]
    for line in lines[1:]:
        body = line[len(rest) :]
        m = _BLOCK_START.match(body)
        if m:
            k = m.end() - 1  # the character that makes it a block: escape it
            body = body[:k] + "\\" + body[k:]
        out.append(rest + body)
    return out
