"""The OpenAPI schema's view of what every endpoint shares (drf-spectacular's AutoSchema)."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

from helpdesk.api_common import KnownFields, KnownQueryParameters, UnknownParametersSerializer

UNKNOWN_PARAMETERS_RESPONSE = OpenApiResponse(
    UnknownParametersSerializer,
    description="A query parameter this endpoint does not take (a typo answers this, never everything): "
    "`unknown` names it, `accepted` lists the parameters taken. Or a refused value: messages by parameter.",
)
BODY_FIELDS_ALSO = (
    'For a write, also messages by body field: a field it does not take ("Unknown field: ..."), a read-only '
    'field sent with another value than its current one ("read-only: ..."; sent back as read, it is accepted), '
    "or a refused value."
)
UNKNOWN_PARAMETER_ALSO = (
    "Also a query parameter this endpoint does not take: `detail` names it and lists the parameters taken."
)


def _reads_known_fields(serializer) -> bool:
    """Whether a request body serializer (a class or instance, a ListSerializer's child) is KnownFields."""
    serializer = getattr(serializer, "child", serializer)
    return issubclass(serializer if isinstance(serializer, type) else type(serializer), KnownFields)


class HelpdeskAutoSchema(AutoSchema):
    """AutoSchema that documents, for every operation of a KnownQueryParameters view
    (helpdesk.api_common), the 400 answer to an unknown query parameter (writes take only
    `format`), and for every read (GET) the query of its `query_serializer`;
    an endpoint that documents its own 400 (messages by field) keeps it, with this case added to
    its description; a write whose body serializer is KnownFields documents its body fields' refusals
    (unknown, read-only changed) in that 400 too."""

    def get_override_parameters(self) -> list:
        parameters = list(super().get_override_parameters())
        query_serializer = getattr(self.view, "query_serializer", None)
        if self.method == "GET" and query_serializer is not None:
            parameters.append(query_serializer)
        return parameters

    def _get_response_bodies(self, direction="response") -> dict:
        # The hook after @extend_schema(responses=...) is applied (it replaces
        # get_response_serializers), so decorated reads get the 400 too.
        responses = super()._get_response_bodies(direction)
        if not isinstance(self.view, KnownQueryParameters):
            return responses
        if "400" not in responses:
            responses["400"] = self._get_response_for_code(UNKNOWN_PARAMETERS_RESPONSE, "400", direction=direction)
        else:
            responses["400"]["description"] += " " + UNKNOWN_PARAMETER_ALSO
        if self.method in ("POST", "PUT", "PATCH") and _reads_known_fields(self.get_request_serializer()):
            responses["400"]["description"] += " " + BODY_FIELDS_ALSO
        return responses
