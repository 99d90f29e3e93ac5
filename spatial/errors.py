"""The one error type a user ever sees: it names the field, the value and the fix."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input, explained in Chinese and English."""

    def __init__(self, field: str, value: object, fix_zh: str, fix_en: str) -> None:
        self.field = field
        self.value = value
        self.fix_zh = fix_zh
        self.fix_en = fix_en
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return (
            f"输入错误：{self.field} = {self.value!r}。{self.fix_zh}\n"
            f"Input error: {self.field} = {self.value!r}. {self.fix_en}"
        )
