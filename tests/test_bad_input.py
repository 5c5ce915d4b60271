"""Values a person can type in a query string or a form, past what the databases store
or not numbers at all, are refused (4xx) or ignored, never a 500: swept over every
GET route of the URL map, as each kind of visitor, and over the forms' id fields."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import ImmutableMultiDict

from marketplace.accounts.models import Role
from marketplace.models import MAX_ID
from tests import factories
from tests.conftest import csrf_token

BAD_VALUES = ["9" * 20, str(MAX_ID + 1), "-1", "0", "1e400", "abc", "9" * 5000]

# Every name the code reads from a query string (the sweep also sends the names it sees
# a page read, so a new parameter is covered without being listed here).
QUERY_NAMES = ["pickup", "producer", "page", "slot", "slot_id", "point", "point_id",
               "place", "place_id", "radius_km", "lat", "lon", "limit", "q", "category",
               "label", "free_from", "near", "all", "next", "start", "month", "filter", "v",
               "variant_id", "user_id"]

ROLES = [None, "household", "producer", "restaurant", "host", "admin"]


class ReadNames(ImmutableMultiDict):
    """request.args and request.form that note the names a view reads."""

    seen: set[str] = set()

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None, type=None):  # noqa: A002 - werkzeug's signature
        self.seen.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):  # noqa: A002
        self.seen.add(key)
        return super().getlist(key, type)

    def __contains__(self, key):
        self.seen.add(key)
        return super().__contains__(key)


@pytest.fixture
def read_names(app, monkeypatch):
    monkeypatch.setattr(app.request_class, "parameter_storage_class", ReadNames)
    ReadNames.seen = set()
    return ReadNames


@pytest.fixture
def people(hosted_market, db):
    """A client signed in as each kind of user (None: anonymous), and the ids that fill
    the URLs' <int:...> arguments."""
    market = hosted_market
    restaurant = factories.restaurant()
    users = {"household": market["buyers"][0], "producer": market["farm"].user,
             "restaurant": restaurant, "host": market["host"],
             "admin": factories.user(Role.ADMIN)}
    ids = {"point_id": market["point"].id, "slot_id": market["slot"].id,
           "product_id": market["carrots"].product_id, "producer_id": market["farm"].id,
           "variant_id": market["carrots"].id}
    return users, ids


def _client(app, user):
    client = app.test_client()
    if user is not None:
        response = client.post("/login", data={
            "email": user.email, "password": factories.PASSWORD,
            "csrf_token": csrf_token(client, "/login")})
        assert response.status_code == 302, user.email
    return client


def _get_urls(app, ids) -> list[str]:
    """Every GET route without arguments, or whose int arguments name a real object."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        if not set(rule.arguments) <= set(ids):
            continue
        if any(conv.__class__.__name__ != "IntegerConverter"
               for conv in rule._converters.values()):
            continue
        urls.append(rule.build({name: ids[name] for name in rule.arguments})[1])
    return sorted(set(urls))


def _open(failures, client, method, url, **kwargs):
    """Notes a 500 (an exception, in TESTING) in ``failures`` with what was sent."""
    sent = f"{method} {url} {kwargs.get('query_string') or kwargs.get('data') or ''}"[:300]
    try:
        response = client.open(url, method=method, **kwargs)
    except Exception as error:  # noqa: BLE001 - any exception here is a 500
        failures.add(f"{sent}: {type(error).__name__}: {error!s:.200}")
        return None
    response.close()  # a file sent (a static part) is closed
    if response.status_code >= 500:
        failures.add(f"{sent}: {response.status_code}")
    return response


@pytest.mark.parametrize("role", ROLES, ids=[str(r) for r in ROLES])
def test_no_query_value_breaks_a_page(app, people, read_names, role):
    users, ids = people
    client = _client(app, users.get(role))
    urls = _get_urls(app, ids)
    assert len(urls) > 40
    failures = set()
    for url in urls:
        read_names.seen = set()
        _open(failures, client, "GET", url)
        names = sorted(read_names.seen | {"pickup", "producer", "page", "slot", "slot_id"})
        for value in BAD_VALUES:
            # Each name the page reads alone (one bad value must not hide another),
            # then every known name at once.
            for name in names:
                _open(failures, client, "GET", url, query_string={name: value})
            _open(failures, client, "GET", url,
                  query_string={name: value for name in QUERY_NAMES})
    assert not failures, "\n".join(sorted(failures))


def _main(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index("<main"):html.index("</main>")]


def test_a_restaurants_door_is_an_unknown_point_to_all_but_that_restaurant(app, doorstep):
    """?pickup= names a restaurant's private door: the same 404 as for a point that
    does not exist, anonymous or signed in, but for the restaurant itself."""
    door = doorstep["point"]
    for user in (None, factories.user(), factories.door_restaurant(name="La Cantine"),
                 factories.user(Role.HOST), doorstep["near"].user):
        client = _client(app, user)
        client.get("/")  # the "signed in" message shown
        unknown = client.get(f"/catalogue?pickup={door.id + 1000}")
        response = client.get(f"/catalogue?pickup={door.id}")
        assert (response.status_code, unknown.status_code) == (404, 404), user
        assert _main(response) == _main(unknown)
    own = _client(app, doorstep["bistrot"]).get(f"/catalogue?pickup={door.id}")
    assert own.status_code == 200
    assert "Poireaux" in own.get_data(as_text=True)


# Forms' id and number fields, as the page that holds them would post them (a valid
# CSRF token), each with every bad value: {point} and {slot} are the market's.
FORM_CASES = [
    (None, "/location", {"place_id": None}),
    ("household", "/location", {"place_id": None}),
    ("household", "/cart/add", {"variant_id": None, "quantity": "1"}),
    ("household", "/cart/add", {"variant_id": "{variant}", "quantity": None}),
    ("household", "/cart/update", {"variant_id": None, "quantity": "2"}),
    ("household", "/cart/remove", {"variant_id": None}),
    ("household", "/checkout", {"slot_id": None}),
    ("household", "/market-day", {"slot_id": None}),
    ("household", "/market-day/aside/remove", {"variant_id": None}),
    ("restaurant", "/restaurant/quick-order", {"slot_id": None}),
    ("restaurant", "/restaurant/quick-order", {"slot_id": "{slot}", "q-{variant}": None}),
    ("restaurant", "/restaurant/quick-order", {"slot_id": "{slot}", "q-{huge}": "1"}),
    ("restaurant", "/checkout", {"slot_id": None}),
    ("producer", "/farm/rounds", {"round": "{huge}:2"}),
    ("producer", "/farm/rounds", {"round": None}),
    ("producer", "/farm/products/new", {"name": "Navets", "category_id": None}),
    ("host", "/pickup/points/{point}/slots/{slot}/close", {"then": "move:{huge}",
                                                         "reason": "Fermé"}),
    ("host", "/pickup/points/{point}/schedules", {"weekday": None, "starts_at": "17:00",
                                                 "ends_at": "19:00", "capacity": None,
                                                 "cutoff_hours": "24"}),
    ("admin", "/admin/invoices/terms", {"user_id": None, "days": "30"}),
    ("admin", "/admin/invoices/terms", {"user_id": "{restaurant}", "days": None}),
]


@pytest.mark.parametrize("role", ROLES, ids=[str(r) for r in ROLES])
def test_no_form_value_breaks_a_post(app, people, role):
    users, ids = people
    cases = [case for case in FORM_CASES if case[0] == role]
    if not cases:
        pytest.skip("no form of its own")
    client = _client(app, users.get(role))
    token = csrf_token(client, "/login" if role is None else "/account")
    names = {"point": ids["point_id"], "slot": ids["slot_id"], "variant": ids["variant_id"],
             "restaurant": users["restaurant"].id}
    failures = set()
    for _role, url, fields in cases:
        for value in BAD_VALUES:
            names["huge"] = value
            data = {key.format(**names): (value if typed is None else typed.format(**names))
                    for key, typed in fields.items()}
            _open(failures, client, "POST", url.format(**names),
                  data={**data, "csrf_token": token})
    assert not failures, "\n".join(sorted(failures))
