"""Request and answer models of the audit-log routes: the reviewer's decisions and the check listing."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from siting.audit.log import NOTE_MAX_CHARS


class DecisionRequest(BaseModel):
    """A reviewer's decision on a check: overall (``rule_id`` null) or on one rule's finding."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["采纳", "不采纳", "需补充材料"] = Field(..., description="审查决定")
    note: str = Field("", max_length=NOTE_MAX_CHARS, description="审查备注（可换行，至多 2000 字）")
    rule_id: str | None = Field(None, max_length=100, description="针对的规则编号（须为该检查结论所列）；null 表示针对总体结论")


class DecisionAnswer(BaseModel):
    """A decision as stored: appended to the audit log (hash-chained and signed), never edited."""

    decision_id: str
    check_id: str
    decision: Literal["采纳", "不采纳", "需补充材料"]
    note: str
    rule_id: str | None
    recorded_at: str = Field(..., description="记录时间（UTC，ISO 8601；页面与报告以北京时间显示）")
    user: str = Field("", description="记录该决定的账户（本机模式为“本机”）")
    role: str = Field("", description="其角色：reviewer、local …")


class CheckSummary(BaseModel):
    """One row of the listing, with the check's latest decision (null if none)."""

    model_config = ConfigDict(extra="allow")
    id: str
    created_at: str = Field(..., description="审查时间（UTC，ISO 8601）")
    overall: str
    user: str = Field("", description="做该检查的账户（本机模式为“本机”）")
    role: str = Field("", description="其角色：reviewer、local …")
    latest_decision: DecisionAnswer | None


class CheckListing(BaseModel):
    checks: list[CheckSummary]
    time_zone: str = Field(..., description="显示用时区说明：存储为 UTC，显示为北京时间（UTC+8）")


class CheckRecordAnswer(BaseModel):
    """A whole audit record (site geometry as WKB hex) with the decisions recorded on it, in order."""

    model_config = ConfigDict(extra="allow")
    id: str
    created_at: str
    checked_on: str
    result: dict
    catalog_version: str
    layer_versions: dict
    digest: str
    signature: str
    public_key: str = Field(..., description="审计日志签名公钥（Ed25519，base64）")
    decisions: list[DecisionAnswer]
