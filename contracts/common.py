"""Parts shared by every message family: agencies, the person, the address, the sentence."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.identifiers import AreaCode, DivisionCode, _resident_id


class Contract(BaseModel):
    """Base of every canonical model: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Agency(StrEnum):
    """The kinds of party that exchange a case (see DOMAIN.md)."""

    court = "court"  # 人民法院
    procuratorate = "procuratorate"  # 人民检察院
    police = "police"  # 公安机关（公安局、派出所）
    justice = "justice"  # 司法行政（司法局/社区矫正机构、司法所）
    grid = "grid"  # 网格（村居委会、网格员）
    committee = "committee"  # 县委政法委（社区矫正委员会办公室）：召集联席会议，督办逾期事项


class UnitType(StrEnum):
    """A unit's place in its agency, which the routing roles name."""

    court = "court"
    procuratorate = "procuratorate"
    public_security_bureau = "public_security_bureau"  # 县公安局
    police_station = "police_station"  # 派出所
    justice_bureau = "justice_bureau"  # 县司法局（社区矫正机构）
    justice_office = "justice_office"  # 司法所
    grid = "grid"  # 网格
    committee = "committee"  # 县委政法委（县社区矫正委员会办公室）

    @property
    def agency(self) -> Agency:
        return _AGENCY_OF[self]


_AGENCY_OF = {
    UnitType.court: Agency.court,
    UnitType.procuratorate: Agency.procuratorate,
    UnitType.public_security_bureau: Agency.police,
    UnitType.police_station: Agency.police,
    UnitType.justice_bureau: Agency.justice,
    UnitType.justice_office: Agency.justice,
    UnitType.grid: Agency.grid,
    UnitType.committee: Agency.committee,
}


class Gender(StrEnum):
    male = "male"
    female = "female"


class IdType(StrEnum):
    resident_id = "resident_id"  # 居民身份证
    passport = "passport"  # 护照（外国籍）


class Address(Contract):
    """A place: the division it lies in, optionally the township or village code, and the text."""

    division_code: DivisionCode
    area_code: AreaCode | None = None
    address: str = Field(min_length=2, max_length=200)

    @model_validator(mode="after")
    def _area_in_division(self) -> Address:
        if self.area_code and not self.area_code.startswith(self.division_code):
            raise ValueError(f"区划代码{self.area_code}不属于行政区划{self.division_code}")
        return self


class Person(Contract):
    """The person under community corrections (社区矫正对象)."""

    name: str = Field(min_length=1, max_length=64)
    gender: Gender
    ethnicity: str | None = Field(default=None, max_length=20)  # 民族
    birth_date: date
    id_type: IdType = IdType.resident_id
    id_number: str
    nationality: str = Field(default="CHN", pattern=r"^[A-Z]{3}$")
    minor: bool = False  # 未成年人：身份信息保密（社区矫正法第五十四条）
    residence: Address  # 居住地，即执行地
    domicile: Address | None = None  # 户籍地
    phone: str | None = Field(default=None, pattern=r"^[0-9+\-]{5,20}$")

    @model_validator(mode="after")
    def _identity(self) -> Person:
        if self.id_type is IdType.resident_id:
            object.__setattr__(self, "id_number", _resident_id(self.id_number))
        elif not re.fullmatch(r"[A-Z0-9]{5,20}", self.id_number):
            raise ValueError(f"护照号码“{self.id_number}”格式不对")
        return self


class PrincipalPenalty(StrEnum):
    fixed_term = "fixed_term"  # 有期徒刑
    detention = "detention"  # 拘役
    surveillance = "surveillance"  # 管制


class CorrectionType(StrEnum):
    probation = "probation"  # 缓刑
    parole = "parole"  # 假释
    surveillance = "surveillance"  # 管制
    medical_parole = "medical_parole"  # 暂予监外执行


class Sentence(Contract):
    """What the judgment decided, as far as community corrections needs it."""

    offence: str = Field(min_length=2, max_length=100)  # 罪名
    principal_penalty: PrincipalPenalty
    term_months: int = Field(ge=1, le=300)  # 刑期（月）
    correction_type: CorrectionType
    probation_months: int | None = Field(default=None, ge=1, le=300)  # 缓刑考验期（月）
    correction_start: date
    correction_end: date
    supplementary_penalty: str | None = Field(default=None, max_length=200)  # 附加刑
    prohibition_order: str | None = Field(default=None, max_length=500)  # 禁止令

    @model_validator(mode="after")
    def _period(self) -> Sentence:
        if self.correction_end < self.correction_start:
            raise ValueError("矫正期限的结束日早于开始日")
        return self


class DocumentKind(StrEnum):
    """Kinds of legal document (法律文书) that travel as attachments."""

    judgment = "judgment"  # 判决书
    ruling = "ruling"  # 裁定书
    decision = "decision"  # 决定书
    execution_notice = "execution_notice"  # 执行通知书
    case_closure_form = "case_closure_form"  # 结案登记表
    indictment = "indictment"  # 起诉书
    evaluation_opinion = "evaluation_opinion"  # 调查评估意见书
    evaluation_request = "evaluation_request"  # 调查评估委托函
    proposal = "proposal"  # 建议书
    correction_notice = "correction_notice"  # 纠正违法通知书
    procuratorial_suggestion = "procuratorial_suggestion"  # 检察建议书
    termination_certificate = "termination_certificate"  # 解除社区矫正证明书
    photo = "photo"  # 现场照片
    other = "other"  # 其他


DOCUMENT_TITLES = {
    DocumentKind.judgment: "判决书",
    DocumentKind.ruling: "裁定书",
    DocumentKind.decision: "决定书",
    DocumentKind.execution_notice: "执行通知书",
    DocumentKind.case_closure_form: "结案登记表",
    DocumentKind.indictment: "起诉书",
    DocumentKind.evaluation_opinion: "调查评估意见书",
    DocumentKind.evaluation_request: "调查评估委托函",
    DocumentKind.proposal: "建议书",
    DocumentKind.correction_notice: "纠正违法通知书",
    DocumentKind.procuratorial_suggestion: "检察建议书",
    DocumentKind.termination_certificate: "解除社区矫正证明书",
    DocumentKind.photo: "现场照片",
    DocumentKind.other: "其他",
}  # each kind's title as the documents themselves are headed (and as the court's XML names them)


class SupervisionLevel(StrEnum):
    strict = "strict"  # 严管
    ordinary = "ordinary"  # 普管
    lenient = "lenient"  # 宽管
