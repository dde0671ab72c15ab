"""mwparserfromhell's flat token stream: the kinds of token that open and close nodes, and
:class:`TokenStream`, which skips, scans and prints token ranges without building node objects.

Turning tokens into a node tree costs several times what the C tokenizer does, so extraction
walks the stream itself (``transforms.wikitext._TokenWalker`` applies the rules on top of this).
"""

from __future__ import annotations

from html.entities import name2codepoint

from mwparserfromhell.parser.builder import Builder
from mwparserfromhell.parser.errors import ParserError
from mwparserfromhell.parser.tokens import (
    ArgumentClose,
    ArgumentOpen,
    CommentEnd,
    CommentStart,
    ExternalLinkClose,
    ExternalLinkOpen,
    HeadingEnd,
    HeadingStart,
    HTMLEntityEnd,
    HTMLEntityHex,
    HTMLEntityStart,
    TagAttrStart,
    TagCloseClose,
    TagCloseOpen,
    TagCloseSelfclose,
    TagOpenClose,
    TagOpenOpen,
    TemplateClose,
    TemplateOpen,
    TemplateParamEquals,
    TemplateParamSeparator,
    Text,
    Token,
    WikilinkClose,
    WikilinkOpen,
)

from transforms.wikitext_prepass import Span, template_name


class _End(Token):
    """Sentinel after the last token: ends every node list, so lookahead never runs off the end."""


_END = _End()

# Tokens that open a node, and those that close one: the stream nests them properly.
_NESTING: dict[type, int] = {
    TemplateOpen: 1,
    ArgumentOpen: 1,
    WikilinkOpen: 1,
    ExternalLinkOpen: 1,
    HTMLEntityStart: 1,
    HeadingStart: 1,
    CommentStart: 1,
    TagOpenOpen: 1,
    TemplateClose: -1,
    ArgumentClose: -1,
    WikilinkClose: -1,
    ExternalLinkClose: -1,
    HTMLEntityEnd: -1,
    HeadingEnd: -1,
    CommentEnd: -1,
    TagCloseSelfclose: -1,
    TagCloseClose: -1,
}
OPENERS = frozenset(kind for kind, step in _NESTING.items() if step > 0)
_TEMPLATE_PARTS = frozenset({TemplateParamSeparator, TemplateClose})
_TAG_NAME_ENDS = frozenset({TagAttrStart, TagCloseOpen, TagCloseSelfclose})


class TokenStream:
    """The tokenizer's flat token stream, read without building node objects.

    A node list is a run of tokens up to the first token that neither is text nor opens a node
    (a separator or close token of the enclosing node, or the end sentinel). Node walks return the
    index just past their node; list walks return the index of the token that ended the list.
    """

    def __init__(self, tokens: list[Token]) -> None:
        tokens.append(_END)
        self.toks = tokens

    def skip(self, i: int) -> int:
        """Index just past the node opened at ``i``."""
        toks = self.toks
        nesting = _NESTING
        depth = 0
        for j in range(i, len(toks)):
            step = nesting.get(type(toks[j]), 0)
            if step:
                depth += step
                if depth == 0:
                    return j + 1
        raise ParserError("unclosed node in the token stream")

    def scan(self, i: int) -> int:
        """Index of the token that ends the node list starting at ``i``."""
        toks = self.toks
        while True:
            kind = type(toks[i])
            if kind is Text:
                i += 1
            elif kind in OPENERS:
                i = self.skip(i)
            else:
                return i

    def expect(self, i: int, kind: type) -> None:
        if type(self.toks[i]) is not kind:
            raise ParserError(f"expected {kind.__name__}, got {type(self.toks[i]).__name__}")

    @staticmethod
    def expect_end(end: int, expected: int) -> None:
        if end != expected:
            raise ParserError("a node list ended early in the token stream")

    def source(self, start: int, end: int) -> str:
        """The wikitext of the node list ``[start, end)``, as the parser's nodes would print it."""
        toks = self.toks
        parts: list[str] = []
        i = start
        while i < end:
            tok = toks[i]
            kind = type(tok)
            if kind is Text:
                parts.append(tok["text"])
                i += 1
            elif kind is HTMLEntityStart:
                prefix, value, i = self.entity_at(i)
                parts.append(f"&{prefix}{value};")
            else:  # rare: let the library print whatever else is there
                return str(Builder().build(toks[start:end]))
        return "".join(parts)

    def entity_at(self, i: int) -> tuple[str, str, int]:
        """The entity at ``i`` as (``""``, ``"#"`` or ``"#x"``, its value, the index past it)."""
        toks = self.toks
        end = self.skip(i)
        size = end - i  # & name ; or & # number ; or & # x hex ;
        value = toks[end - 2]
        if (
            type(value) is not Text
            or not 3 <= size <= 5
            or (size == 5 and type(toks[i + 2]) is not HTMLEntityHex)
        ):
            raise ParserError("malformed HTML entity in the token stream")
        prefix = "" if size == 3 else "#" if size == 4 else "#" + toks[i + 2]["char"]
        return prefix, value["text"], end

    def entity(self, i: int) -> tuple[str, int]:
        """The character of the entity at ``i`` and the index past it."""
        prefix, value, end = self.entity_at(i)
        if not prefix:
            return chr(name2codepoint[value]), end
        return chr(int(value) if prefix == "#" else int(value, 16)), end

    def tag_head(self, i: int) -> tuple[str, int]:
        """Name of the tag opened at ``i`` and the index of its TagCloseOpen/TagCloseSelfclose."""
        toks = self.toks
        j = i + 1
        tok = toks[j]
        if type(tok) is Text and type(toks[j + 1]) in _TAG_NAME_ENDS:
            name = tok["text"]
            j += 1
        else:
            j = self.scan(j)
            name = self.source(i + 1, j)
        while True:  # attributes: nothing of them is text of the article
            kind = type(toks[j])
            if kind is TagCloseOpen or kind is TagCloseSelfclose:
                return name, j
            if kind in OPENERS:
                j = self.skip(j)
            elif kind is _End:
                raise ParserError("unclosed tag in the token stream")
            else:
                j += 1

    def tag_tail(self, i: int) -> int:
        """Index past the closing tag whose TagOpenClose is at ``i``."""
        self.expect(i, TagOpenClose)
        j = self.scan(i + 1)
        self.expect(j, TagCloseClose)
        return j + 1

    def template_head(self, i: int) -> tuple[str, int]:
        """Name of the template opened at ``i`` and the index of the token after the name."""
        toks = self.toks
        tok = toks[i + 1]
        if type(tok) is Text and type(toks[i + 2]) in _TEMPLATE_PARTS:
            return template_name(tok["text"]), i + 2
        j = self.scan(i + 1)
        return template_name(self.source(i + 1, j)), j

    def template_args(self, j: int) -> tuple[list[Span], int]:
        """Positional parameter values of a template from ``j`` (after its name); index past it."""
        toks = self.toks
        args: list[Span] = []
        while type(toks[j]) is TemplateParamSeparator:
            start = j + 1
            j = self.scan(start)
            if type(toks[j]) is TemplateParamEquals:  # a named parameter
                j = self.scan(j + 1)
            else:
                args.append((start, j))
        self.expect(j, TemplateClose)
        return args, j + 1

    def span_source(self, span: Span) -> str:
        return self.source(span[0], span[1])

    def blank(self, start: int, end: int) -> bool:
        """Whether the node list prints as whitespace only (every node but text shows markup)."""
        toks = self.toks
        for i in range(start, end):
            tok = toks[i]
            if type(tok) is not Text or tok["text"].strip():
                return False
        return True
