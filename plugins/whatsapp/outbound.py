"""An outbound standard message → the JSON body of Graph's ``POST /{phone_number_id}/messages``.

The send is described by ``message.extra["whatsapp"]`` (see docs/whatsapp.md), whose parts
mirror Graph's own message object so that Meta's examples can be copied; without it, a
``text`` message sends its ``text`` and a media message its first ``media`` item. A shape
that cannot be sent raises ``InvalidSend`` before anything reaches Meta.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core import StandardMessage

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
SendType = Literal[
    "text", "template", "image", "video", "audio", "document", "sticker", "interactive", "reaction", "location", "read"
]


class InvalidSend(ValueError):
    """The message cannot be turned into a Graph request; sending it again will not help."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Text(_Part):
    body: str = Field(min_length=1, max_length=4096)
    preview_url: bool = False


class Media(_Part):
    """An uploaded media ``id`` or a public ``link``."""

    id: str | None = Field(default=None, min_length=1)
    link: str | None = Field(default=None, pattern=r"^https?://")
    caption: str | None = Field(default=None, max_length=1024)
    filename: str | None = Field(default=None, max_length=240)

    @model_validator(mode="after")
    def _one_source(self) -> Media:
        if (self.id is None) == (self.link is None):
            raise ValueError("give exactly one of id and link")
        return self


class Template(_Part):
    name: str = Field(min_length=1, max_length=512)
    language: str = Field(default="en", min_length=2, max_length=16)
    # Body parameters: a list for {{1}}, {{2}}, …; a table for named ones ({{first_name}}).
    parameters: list[str] | dict[str, str] | None = None
    # Graph's components as they are (header media, buttons, …), for anything else.
    components: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Template:
        if self.parameters is not None and self.components is not None:
            raise ValueError("give parameters or components, not both")
        return self

    def graph(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "language": {"code": self.language}}
        if self.components is not None:
            body["components"] = self.components
        elif isinstance(self.parameters, list) and self.parameters:
            body["components"] = [
                {"type": "body", "parameters": [{"type": "text", "text": p} for p in self.parameters]}
            ]
        elif isinstance(self.parameters, dict) and self.parameters:
            named = [{"type": "text", "parameter_name": k, "text": v} for k, v in self.parameters.items()]
            body["components"] = [{"type": "body", "parameters": named}]
        return body


class Interactive(_Part):
    """Graph's interactive object; the commonest mistakes are caught here, the rest by Meta."""

    model_config = ConfigDict(extra="allow")
    type: Literal["button", "list", "cta_url", "flow", "product", "product_list", "location_request_message"]
    body: dict[str, Any] | None = None
    action: dict[str, Any]

    @model_validator(mode="after")
    def _limits(self) -> Interactive:
        if self.type in ("button", "list") and not (self.body or {}).get("text"):
            raise ValueError(f"a {self.type} message needs body.text")
        if self.type == "button":
            buttons = self.action.get("buttons")
            if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
                raise ValueError("action.buttons must hold 1 to 3 buttons")
        if self.type == "list":
            sections = self.action.get("sections")
            if not isinstance(sections, list) or not sections or not self.action.get("button"):
                raise ValueError("a list needs action.button and at least one of action.sections")
            rows = sum(len(s.get("rows") or []) for s in sections if isinstance(s, dict))
            if not 1 <= rows <= 10:
                raise ValueError("a list holds 1 to 10 rows in all")
        return self


class Reaction(_Part):
    message_id: str = Field(min_length=1)
    emoji: str = ""  # empty: remove the reaction


class Location(_Part):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = None
    address: str | None = None


class Context(_Part):
    message_id: str = Field(min_length=1)


class SendSpec(_Part):
    """``extra["whatsapp"]`` of an outbound message."""

    type: SendType | None = None
    text: Text | None = None
    template: Template | None = None
    image: Media | None = None
    video: Media | None = None
    audio: Media | None = None
    document: Media | None = None
    sticker: Media | None = None
    interactive: Interactive | None = None
    reaction: Reaction | None = None
    location: Location | None = None
    # type "read": the inbound message to mark as read; typing_indicator shows "typing…" too.
    message_id: str | None = None
    typing_indicator: bool = False
    # Answer to this message (shown quoted).
    context: Context | None = None
    # Echoed back in this message's statuses.
    biz_opaque_callback_data: str | None = Field(default=None, max_length=512)
    # Send from this business number instead of [plugins.whatsapp] phone_number_id.
    phone_number_id: str | None = Field(default=None, pattern=r"^[0-9]{1,32}$")


def send_spec(message: StandardMessage) -> SendSpec:
    """The validated send description of ``message`` (``extra["whatsapp"]`` or the defaults)."""
    given = message.extra.get("whatsapp")
    if given is not None and not isinstance(given, dict):
        raise InvalidSend("extra['whatsapp'] must be an object")
    try:
        spec = SendSpec.model_validate(given or {})
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(object)"
        raise InvalidSend(f"extra['whatsapp'].{where}: {first['msg']}") from err
    if spec.type is None:
        spec.type = _default_type(message, spec)
    return spec


def _default_type(message: StandardMessage, spec: SendSpec) -> SendType:
    for name in ("template", "interactive", "reaction", "location", *MEDIA_TYPES):
        if getattr(spec, name) is not None:
            return name  # type: ignore[return-value]
    if message.kind in MEDIA_TYPES and message.media:
        return message.kind  # type: ignore[return-value]
    if message.kind == "text" or spec.text is not None:
        return "text"
    raise InvalidSend(f"cannot send a {message.kind!r} message: set extra['whatsapp'].type")


def graph_body(message: StandardMessage, spec: SendSpec) -> dict[str, Any]:
    """The request body for Graph's messages endpoint."""
    kind = spec.type
    if kind == "read":
        if not spec.message_id:
            raise InvalidSend("a read receipt needs extra['whatsapp'].message_id (the inbound wamid)")
        body: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read", "message_id": spec.message_id}
        if spec.typing_indicator:
            body["typing_indicator"] = {"type": "text"}
        return body
    if not message.recipient:
        raise InvalidSend("the message has no recipient (the contact's wa_id)")
    body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": message.recipient, "type": kind}
    body[kind] = _content(message, spec)  # type: ignore[index]
    if spec.context is not None:
        body["context"] = {"message_id": spec.context.message_id}
    if spec.biz_opaque_callback_data:
        body["biz_opaque_callback_data"] = spec.biz_opaque_callback_data
    return body


def _content(message: StandardMessage, spec: SendSpec) -> dict[str, Any]:
    kind = spec.type
    if kind == "text":
        text = spec.text or (Text(body=message.text) if message.text else None)
        if text is None:
            raise InvalidSend("a text message needs text")
        return text.model_dump(exclude_defaults=True) | {"body": text.body}
    if kind == "template":
        if spec.template is None:
            raise InvalidSend("type 'template' needs extra['whatsapp'].template")
        return spec.template.graph()
    if kind in MEDIA_TYPES:
        media: Media | None = getattr(spec, kind) or _media_of(message)
        if media is None:
            raise InvalidSend(f"type {kind!r} needs extra['whatsapp'].{kind} (id or link) or a media item")
        return media.model_dump(exclude_none=True)
    part = getattr(spec, kind or "")
    if part is None:
        raise InvalidSend(f"type {kind!r} needs extra['whatsapp'].{kind}")
    return part.model_dump(exclude_none=True)  # type: ignore[no-any-return]


def _media_of(message: StandardMessage) -> Media | None:
    if not message.media:
        return None
    item = message.media[0]
    # Graph takes a caption for image, video and document only, and a filename for documents.
    captioned = message.kind in ("image", "video", "document")
    caption = (item.get("caption") or message.text) if captioned else None
    filename = item.get("filename") if message.kind == "document" else None
    try:
        return Media(id=item.get("id"), link=item.get("url"), caption=caption, filename=filename)
    except ValidationError as err:
        raise InvalidSend(f"media[0]: {err.errors(include_url=False)[0]['msg']}") from err
