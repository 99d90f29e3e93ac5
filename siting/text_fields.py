"""The one normaliser for free text a user types (project names, industry text, batch names).

Such text is written into the audit log, DOCX/PDF reports and CSV outputs. A control
character breaks a DOCX (XML 1.0 forbids most of them), a lone surrogate cannot even be
encoded as UTF-8, and U+FFFE/U+FFFF are non-characters; all of them are refused here,
with the field and the position named, instead of failing later in a writer.
"""

from __future__ import annotations

import unicodedata

from spatial.errors import InputError

_NONCHARACTERS = {0xFFFE, 0xFFFF}


def _describe(char: str) -> str:
    return f"U+{ord(char):04X}"


def clean_text(value: str, field: str, *, max_len: int) -> str:
    """``value`` NFC-normalised and stripped, or an InputError naming the first character that cannot be kept.

    Surrounding whitespace (a pasted trailing line break too) is stripped first. Refused: every control
    character left inside (tabs and line breaks included: these are one-line fields), lone surrogates,
    U+FFFE/U+FFFF, and text longer than ``max_len`` characters after normalising.
    """
    if not isinstance(value, str):
        raise InputError(field, repr(value), "应为文本。", "must be text.")
    value = value.strip()
    for position, char in enumerate(value, start=1):
        if 0xD800 <= ord(char) <= 0xDFFF:
            raise InputError(field, _shown(value), f"第 {position} 个字符是孤立的代理码位 {_describe(char)}（不是有效字符），请删除或重新输入。",
                             f"character {position} is a lone surrogate {_describe(char)} (not a valid character); remove or retype it.")
        if _unsafe(char):
            raise InputError(field, _shown(value),
                             f"第 {position} 个字符是控制字符或非字符 {_describe(char)}，请删除（本字段只能是一行可见文字）。",
                             f"character {position} is a control character or non-character {_describe(char)}; "
                             "remove it (this field is one line of visible text).")
    cleaned = unicodedata.normalize("NFC", value)
    if len(cleaned) > max_len:
        raise InputError(field, f"{cleaned[:40]}…（{len(cleaned)} 字）", f"过长：至多 {max_len} 个字符。",
                         f"too long: at most {max_len} characters.")
    return cleaned


def _shown(value: str) -> str:
    """The refused value as echoed back: bounded (the error shape escapes what it cannot show)."""
    return value[:80] + ("…" if len(value) > 80 else "")


def _unsafe(char: str) -> bool:
    code = ord(char)
    return 0xD800 <= code <= 0xDFFF or code in _NONCHARACTERS or unicodedata.category(char) == "Cc"
