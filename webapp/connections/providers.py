"""Provider templates: pre-filled, explained starting points for a connection.

These are the host's own; plugins add theirs through the sdm_provider_templates hook.
"""

from __future__ import annotations

from webapp.plugin_types import AuthMethod, ProviderTemplate

DEFAULT_PROVIDER = "custom"
SCOPE_BASE = "https://purl.imsglobal.org/spec/or/{version}/scope/"
CORE_SCOPE_V1P2 = SCOPE_BASE.format(version="v1p2") + "roster-core.readonly"


def standard_scopes(version: str = "1.2") -> tuple[str, ...]:
    """Return the standard OneRoster rostering scopes of a version, as full URLs."""
    base = SCOPE_BASE.format(version="v1p2" if version == "1.2" else "v1p1")
    return tuple(base + name for name in ("roster-core.readonly", "roster.readonly",
                                          "roster-demographics.readonly"))


CUSTOM = ProviderTemplate(
    id="custom",
    name="Custom",
    description="Manual configuration for any OneRoster API.",
    help=(
        "Enter the Base URL exactly as your SIS provider gives it, including any vendor prefix "
        "before /ims/oneroster/…: SDM appends the collection names (/orgs, /users, …) to it.",
        "OneRoster 1.2 Base URLs usually end in /ims/oneroster/rostering/v1p2 and 1.1 Base "
        "URLs in /ims/oneroster/v1p1. Pick the matching version under Advanced.",
        "Set the Auth URL when your provider gave you a token endpoint.",
    ),
    base_url_example="https://sis.example.org/ims/oneroster/rostering/v1p2",
    auth_url_hint="The OAuth 2 token endpoint, e.g. https://sis.example.org/oauth/token",
    order=90,
)

LIBRUS = ProviderTemplate(
    id="librus",
    name="Librus",
    description="Pre-configured for Librus SIS (Poland).",
    help=(
        "Librus issues the OneRoster Base URL and the token (Auth) URL to each school "
        "separately; they are not published. Ask your school's Librus Synergia administrator, "
        "or Librus support, for the OneRoster API access details: Base URL, Auth URL, "
        "Client ID and Client Secret.",
        "The OneRoster version, client authentication and scopes are already set for Librus. "
        "Change them under Advanced only if Librus tells you to.",
    ),
    base_url_example="https://<address issued to your school>/ims/oneroster/rostering/v1p2",
    auth_url_hint="Required for Librus: the token URL issued to your school.",
    version="1.2",
    auth_method=AuthMethod.OAUTH2_BASIC,
    scopes=(CORE_SCOPE_V1P2,),
    order=10,
    auth_url_required=True,
)

POWERSCHOOL = ProviderTemplate(
    id="powerschool",
    name="PowerSchool",
    description="PowerSchool SIS with its OneRoster plugin (credentials sent in the body).",
    help=(
        "A PowerSchool district administrator installs and enables the OneRoster plugin "
        "(System › System Settings › Plugin Management Configuration). The plugin's Data "
        "Provider Configuration page shows its Client ID and Client Secret.",
        "The same page sets the plugin's Maximum Page Size. SDM asks for 1000 records a page "
        "and adapts to less, but a small maximum means many more requests: set it to 1000.",
        "The Base URL is your PowerSchool server's address followed by the OneRoster path. "
        "PowerSchool expects the credentials in the token request body, which is already set "
        "under Advanced. Leave the Auth URL blank to use <server>/oauth/access_token.",
        "If your server offers only OneRoster 1.1, use the /ims/oneroster/v1p1 path and pick "
        "1.1 under Advanced.",
    ),
    base_url_example="https://<district>.powerschool.com/ims/oneroster/rostering/v1p2",
    auth_url_hint="Leave blank for https://<server>/oauth/access_token.",
    version="1.2",
    auth_method=AuthMethod.OAUTH2_BODY,
    order=20,
    default_auth_url="{origin}/oauth/access_token",
)

INFINITE_CAMPUS = ProviderTemplate(
    id="infinite-campus",
    name="Infinite Campus",
    description="Infinite Campus OneRoster 1.2 (OAuth 2).",
    help=(
        "The district's Campus administrator creates a OneRoster 1.2 (OAuth 2) connection for "
        "SDM under Digital Learning Applications Configuration and hands over its Client ID "
        "(called Client Key on older versions), Client Secret, Base URL and token URL.",
        "Enter both URLs exactly as Campus shows them: the Base URL's form depends on the "
        "Campus version (some include the application name, …/campus/api/oneroster/v1p2/"
        "<appName>/ims/oneroster/rostering/v1p2), and the token URL carries the application "
        "name as a query string (…/campus/oauth2/token?appName=<appName>).",
        "Campus dropped OAuth 1 in 2023. Moving a district from OneRoster 1.1 to 1.2 gives "
        "every person a new sourcedId, so downstream systems see new records.",
        "Some Campus set-ups expect the credentials in the token request body: choose that "
        "under Advanced if the test reports an authentication failure.",
    ),
    base_url_example=("https://<district>.infinitecampus.org/campus/api/oneroster/v1p2/"
                      "<appName>/ims/oneroster/rostering/v1p2"),
    auth_url_hint=("Required: https://<district>.infinitecampus.org/campus/oauth2/token"
                   "?appName=<appName>"),
    version="1.2",
    auth_method=AuthMethod.OAUTH2_BASIC,
    order=30,
    auth_url_required=True,
)

CLASSLINK = ProviderTemplate(
    id="classlink",
    name="ClassLink",
    description="ClassLink Roster Server through its OneRoster proxy (bearer token).",
    help=(
        "ClassLink's OneRoster proxy uses a long-lived bearer token instead of a token "
        "endpoint: paste the token as the Client Secret and leave the Auth URL blank.",
        "The OneRoster module of the ClassLink developer console shows the application ID and "
        "its access token (the bearer token) once the district has granted access. Use the "
        "application ID as the Client ID and in the Base URL.",
        "To read the district's Roster Server directly instead of through the proxy, use the "
        "server URL, client ID and secret the console shows behind the key next to the "
        "district, and choose OAuth 1.0a under Advanced.",
    ),
    base_url_example="https://oneroster-proxy.classlink.io/<appId>/ims/oneroster/v1p1",
    auth_url_hint="Not used with a bearer token.",
    version="1.1",
    auth_method=AuthMethod.BEARER,
    order=40,
)

AERIES = ProviderTemplate(
    id="aeries",
    name="Aeries",
    description="Aeries SIS OneRoster 1.1 (OAuth 2).",
    help=(
        "Aeries serves OneRoster 1.1 only. The district's Aeries administrator creates the "
        "OneRoster API client and gives you its Client ID and Client Secret.",
        "The Base URL is the district's Aeries address followed by /ims/oneroster/v1p1. Leave "
        "the Auth URL blank to use the Base URL followed by /token.",
        "Aeries warns that frequent full (\"get all\") requests are expensive: prefer "
        "scheduled delta syncs over repeated full imports.",
    ),
    base_url_example="https://<district>.aeries.net/aeries/ims/oneroster/v1p1",
    auth_url_hint="Leave blank for <Base URL>/token.",
    version="1.1",
    auth_method=AuthMethod.OAUTH2_BASIC,
    order=50,
    default_auth_url="{base_url}/token",
)

BUILTIN_TEMPLATES = (LIBRUS, POWERSCHOOL, INFINITE_CAMPUS, CLASSLINK, AERIES, CUSTOM)

