"""Hosts manage schedules and dates of their points; producers declare their rounds."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts.models import Role
from marketplace.pickup import rounds, services
from marketplace.pickup.models import DeliveryRound, PickupSchedule, PickupSlot, SlotStatus
from tests import factories
from tests.clock import INSTANTS, PARIS, now, paris
from tests.factories import RENNES


@pytest.fixture(autouse=True)
def _pickup_blueprint(app):
    # Until marketplace/__init__.py registers them.
    if "pickup" not in app.blueprints:
        from marketplace.pickup.cli import register
        from marketplace.pickup.routes import bp

        app.register_blueprint(bp)
        register(app)


@pytest.fixture(autouse=True)
def _english(english):
    """Messages below are checked in English."""


@pytest.fixture
def host(login):
    return login(factories.user(Role.HOST))


def schedule_data(**overrides):
    data = {"weekday": "3", "starts_at": "17:00", "ends_at": "19:00",
            "capacity": "20", "cutoff_hours": "36"}
    data.update(overrides)
    return data


def test_host_lists_only_its_points(client, host):
    factories.pickup_point("Mon café", host=host)
    factories.pickup_point("Autre café", host=factories.user(Role.HOST))
    page = client.get("/pickup/points").get_data(as_text=True)
    assert "Mon café" in page
    assert "Autre café" not in page


def test_household_cannot_manage_points(client, login):
    login(factories.user(Role.HOUSEHOLD))
    assert client.get("/pickup/points").status_code == 403


def test_host_adds_and_removes_a_schedule(client, host, form_post, db):
    point = factories.pickup_point(host=host)
    url = f"/pickup/points/{point.id}"
    response = form_post(f"{url}/schedules", schedule_data(), page=url)
    assert response.status_code == 302
    schedule = db.session.scalar(select(PickupSchedule))
    assert (schedule.weekday, schedule.starts_at, schedule.ends_at, schedule.capacity,
            schedule.cutoff_hours) == (3, time(17), time(19), 20, 36)
    page = client.get(url).get_data(as_text=True)
    assert "17:00" in page
    assert "19:00" in page
    response = form_post(f"{url}/schedules/{schedule.id}/delete", {}, page=url)
    assert response.status_code == 302
    assert db.session.scalar(select(PickupSchedule)) is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ends_at": "16:00"}, "The closing time must be after the opening time."),
        ({"ends_at": "17:00"}, "The closing time must be after the opening time."),
        ({"capacity": "0"}, "Between 1 and 500 orders."),
        ({"capacity": "501"}, "Between 1 and 500 orders."),
        ({"cutoff_hours": "241"}, "Between 0 and 240 hours."),
        ({"cutoff_hours": "-1"}, "Between 0 and 240 hours."),
        ({"starts_at": "25:00"}, "Please enter a time as HH:MM"),
        ({"weekday": "9"}, "Please choose a day."),
        ({"weekday": "x"}, "Please choose a day."),
        ({"capacity": ""}, "Please enter how many orders a slot takes."),
        ({"capacity": "9" * 5000}, "Not a valid integer value."),
        ({"cutoff_hours": "9" * 5000}, "Not a valid integer value."),
        ({"weekday": "9" * 5000}, "Please choose a day."),
    ],
)
def test_bad_schedule_input_is_refused(client, host, form_post, db, overrides, message):
    point = factories.pickup_point(host=host)
    url = f"/pickup/points/{point.id}"
    response = form_post(f"{url}/schedules", schedule_data(**overrides), page=url)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(PickupSchedule)) is None


def test_other_hosts_point_is_404(client, host, form_post, db):
    mine = factories.pickup_point(host=host)
    theirs = factories.pickup_point("Autre", host=factories.user(Role.HOST))
    slot = factories.slot(theirs)
    assert client.get(f"/pickup/points/{theirs.id}").status_code == 404
    page = f"/pickup/points/{mine.id}"
    assert form_post(f"/pickup/points/{theirs.id}/schedules", schedule_data(),
                     page=page).status_code == 404
    assert form_post(f"/pickup/points/{theirs.id}/slots/{slot.id}/close", {"reason": "x"},
                     page=page).status_code == 404
    # A slot of another point through my point's address is not found either.
    assert form_post(f"/pickup/points/{mine.id}/slots/{slot.id}/close", {"reason": "x"},
                     page=page).status_code == 404
    db.session.expire_all()
    assert db.session.get(PickupSlot, slot.id).status == SlotStatus.OPEN


def test_admin_manages_any_point(client, login):
    login(factories.user(Role.ADMIN))
    point = factories.pickup_point(host=factories.user(Role.HOST))
    assert client.get(f"/pickup/points/{point.id}").status_code == 200


def test_missing_csrf_is_400(client, host, db):
    point = factories.pickup_point(host=host)
    slot = factories.slot(point)
    url = f"/pickup/points/{point.id}"
    assert client.post(f"{url}/schedules", data=schedule_data()).status_code == 400
    assert client.post(f"{url}/slots/{slot.id}/close", data={"reason": "x"}).status_code == 400
    assert db.session.scalar(select(PickupSchedule)) is None


def test_host_sees_and_closes_a_date(client, host, form_post, db):
    point = factories.pickup_point(host=host)
    slot = factories.slot(point, capacity=12, taken=3)
    url = f"/pickup/points/{point.id}"
    page = client.get(url).get_data(as_text=True)
    assert "3 / 12" in page
    response = form_post(f"{url}/slots/{slot.id}/close", {"reason": ""}, page=url)
    assert response.status_code == 400
    assert "Please give a reason" in response.get_data(as_text=True)
    response = form_post(f"{url}/slots/{slot.id}/close", {"reason": "Jour férié"}, page=url)
    assert response.status_code == 302
    db.session.expire_all()
    slot = db.session.get(PickupSlot, slot.id)
    assert slot.status == SlotStatus.CLOSED
    assert slot.closed_reason == "Jour férié"
    assert "Jour férié" in client.get(url).get_data(as_text=True)


@pytest.mark.parametrize("then", [
    "move:9999999999999999999", "move:" + "9" * 35, "move:0", "move:abc", "move:", "",
    "anything"])
def test_closing_a_date_with_orders_to_an_unknown_date_is_400(client, host, form_post, db,
                                                             then):
    point = factories.pickup_point(host=host)
    slot = factories.slot(point)
    theirs = factories.slot(factories.pickup_point("Autre", host=factories.user(Role.HOST)))
    farm = factories.producer()
    carrots = factories.product(farm, variants=(("1 kg", 350, 10),)).variants[0]
    factories.delivery_round(farm, slot)
    factories.order(factories.user(), slot, {carrots.id: 1})
    url = f"/pickup/points/{point.id}"
    for value in (then, f"move:{theirs.id}"):
        response = form_post(f"{url}/slots/{slot.id}/close", {"reason": "Férié", "then": value},
                             page=url)
        assert response.status_code == 400
        assert "This date has 1 order: choose a date to move it to" in response.get_data(
            as_text=True)
    db.session.expire_all()
    assert db.session.get(PickupSlot, slot.id).status == SlotStatus.OPEN


def test_host_generates_dates(client, host, form_post, db):
    point = factories.pickup_point(host=host)
    services.add_schedule(db.session, point, weekday=2, starts_at=time(17), ends_at=time(19),
                          capacity=10, cutoff_hours=24)
    db.session.commit()
    url = f"/pickup/points/{point.id}"
    assert form_post(f"{url}/slots/generate", {}, page=url).status_code == 302
    assert len(db.session.scalars(select(PickupSlot)).all()) >= 3


def test_a_host_generates_the_dates_of_its_own_points_only(client, host, form_post, db):
    mine = factories.pickup_point("Mon café", host=host)
    theirs = factories.pickup_point("Autre café", host=factories.user(Role.HOST))
    for point in (mine, theirs):
        services.add_schedule(db.session, point, weekday=2, starts_at=time(17),
                              ends_at=time(19), capacity=10, cutoff_hours=24)
    db.session.commit()
    own_page = f"/pickup/points/{mine.id}"

    def dates_of(point):
        return db.session.scalars(
            select(PickupSlot).where(PickupSlot.pickup_point_id == point.id)).all()

    other = form_post(f"/pickup/points/{theirs.id}/slots/generate", {}, page=own_page)
    assert other.status_code == 404
    assert dates_of(theirs) == []
    assert dates_of(mine) == []
    # Its own point's button makes its own dates, not the other host's.
    assert form_post(f"{own_page}/slots/generate", {}, page=own_page).status_code == 302
    assert len(dates_of(mine)) >= 3
    assert dates_of(theirs) == []


# Mondays 09:00 over the next three weeks of local dates (today's included): three,
# unless today is a Monday past 09:00 or the next Monday is a public holiday (Easter
# Monday, 29 March 2027). The command reads the (frozen) clock itself.
GENERATED_ON_MONDAYS = {"monday-evening": 2, "before-spring-forward": 2,
                        "after-spring-forward": 2}


@pytest.mark.parametrize(("clock", "expected"), [
    *(pytest.param(p.values[0], GENERATED_ON_MONDAYS.get(p.id, 3), id=p.id) for p in INSTANTS),
    pytest.param(paris(2026, 12, 7, 8, 59), 3, id="monday-0859"),
    pytest.param(paris(2026, 12, 7, 9, 0), 2, id="monday-0900"),
], indirect=["clock"])
def test_cli_generate_slots(app, db, clock, expected):
    point = factories.pickup_point()
    services.add_schedule(db.session, point, weekday=0, starts_at=time(9), ends_at=time(10),
                          capacity=5, cutoff_hours=0)
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["pickup", "generate-slots", "--weeks", "3"])
    assert result.exit_code == 0, result.output
    assert f"{expected} slot(s) created." in result.output
    slots = db.session.scalars(select(PickupSlot).order_by(PickupSlot.starts_at)).all()
    local = [(s.starts_at.astimezone(PARIS), s.ends_at.astimezone(PARIS)) for s in slots]
    # Mondays 09:00-10:00 in Paris whatever the offset, one a week, none past.
    assert [(start.weekday(), start.time(), end.time()) for start, end in local] == [
        (0, time(9), time(10))] * expected
    assert all(later - earlier == timedelta(days=7)
               for (earlier, _), (later, _) in zip(local, local[1:], strict=False))
    assert slots[0].starts_at > clock.start
    first_monday = 7 if clock.start.astimezone(PARIS).month != 3 else 14  # Easter Monday
    assert slots[0].starts_at - clock.start <= timedelta(days=first_monday)
    result = runner.invoke(args=["pickup", "generate-slots", "--weeks", "3"])
    assert "0 slot(s) created." in result.output


# Producer rounds -------------------------------------------------------------------------

@pytest.fixture
def farm(login):
    producer = factories.producer()
    login(producer.user)
    return producer


def test_rounds_page_offers_only_points_within_radius(client, farm):
    factories.pickup_point("Vannes centre")
    factories.pickup_point("Rennes gare", at=RENNES)
    factories.pickup_point("Theix bourg", at=(47.6295, -2.6538))
    page = client.get("/farm/rounds").get_data(as_text=True)
    assert "Vannes centre" in page
    assert "Theix bourg" in page
    assert "Rennes gare" not in page
    assert page.index("Theix bourg") < page.index("Vannes centre")   # nearest first
    assert " km" in page


def test_rounds_are_saved_in_one_post(client, farm, form_post, db):
    near = factories.pickup_point("Vannes centre")
    other = factories.pickup_point("Theix bourg", at=(47.6295, -2.6538))
    response = form_post("/farm/rounds", {"round": [f"{near.id}:3", f"{other.id}:5",
                                                    f"{near.id}:1"]})
    assert response.status_code == 302
    assert {(r.pickup_point_id, r.weekday) for r in db.session.scalars(select(DeliveryRound))} \
        == {(near.id, 3), (other.id, 5), (near.id, 1)}
    page = client.get("/farm/rounds").get_data(as_text=True)
    assert re.search(rf'value="{near.id}:3"[^>]*checked', page)
    assert not re.search(rf'value="{near.id}:2"[^>]*checked', page)
    # Unticking everything removes every round.
    assert form_post("/farm/rounds", {}).status_code == 302
    assert db.session.scalars(select(DeliveryRound)).all() == []


def test_tampered_round_outside_radius_is_400(client, farm, form_post, db):
    near = factories.pickup_point("Vannes centre")
    far = factories.pickup_point("Rennes gare", at=RENNES)
    rounds.set_rounds(db.session, farm, [(near.id, 2)])
    db.session.commit()
    response = form_post("/farm/rounds", {"round": [f"{near.id}:3", f"{far.id}:3"]})
    assert response.status_code == 400
    assert "outside your delivery radius" in response.get_data(as_text=True)
    for bad in ("abc", f"{near.id}:7", f"{near.id}", f"{'9' * 5000}:1",
                f"{near.id}:{'9' * 5000}", f"{'9' * 20}:1", f"{near.id}:03", "\u00b2:1",
                f"{near.id}:\u00b2", f"{near.id}:-1", f"{near.id}:", ":1"):
        response = form_post("/farm/rounds", {"round": [bad]})
        assert response.status_code == 400, bad
        assert "This choice could not be understood." in response.get_data(as_text=True)
    assert [(r.pickup_point_id, r.weekday) for r in db.session.scalars(select(DeliveryRound))] \
        == [(near.id, 2)]


def test_rounds_need_a_producer_and_csrf(client, login, db):
    login(factories.user(Role.HOST))
    assert client.get("/farm/rounds").status_code == 403


def test_rounds_post_without_csrf_is_400(client, farm, db):
    near = factories.pickup_point("Vannes centre")
    assert client.post("/farm/rounds", data={"round": [f"{near.id}:3"]}).status_code == 400
    assert db.session.scalars(select(DeliveryRound)).all() == []


def test_slot_cutoff_shown_in_local_time(client, host, db):
    point = factories.pickup_point(host=host)
    starts = now() + timedelta(days=2)
    db.session.add(PickupSlot(pickup_point_id=point.id, starts_at=starts,
                              ends_at=starts + timedelta(hours=2),
                              cutoff_at=starts - timedelta(hours=36), capacity=4))
    db.session.commit()
    page = client.get(f"/pickup/points/{point.id}").get_data(as_text=True)
    assert "0 / 4" in page


def test_closing_a_date_closed_already_is_409_and_keeps_its_reason(client, host, form_post, db):
    point = factories.pickup_point(host=host)
    slot = factories.slot(point)
    url = f"/pickup/points/{point.id}"
    close = f"{url}/slots/{slot.id}/close"
    assert form_post(close, {"reason": "Jour férié"}, page=url).status_code == 302
    # A second tab, or the back button: the page still shows the close form.
    again = form_post(close, {"reason": "Travaux"}, page=url)
    assert again.status_code == 409
    assert "This date is closed already." in again.get_data(as_text=True)
    db.session.expire_all()
    slot = db.session.get(PickupSlot, slot.id)
    assert (slot.status, slot.closed_reason) == (SlotStatus.CLOSED, "Jour férié")
    # Even with no reason given, the answer is the date's state, not the missing reason.
    empty = form_post(close, {"reason": ""}, page=url)
    assert empty.status_code == 409
    assert "This date is closed already." in empty.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PickupSlot, slot.id).closed_reason == "Jour férié"


# Cut-offs as people say them -------------------------------------------------------------

@pytest.mark.parametrize(("lang", "instant", "said"), [
    ("fr", paris(2026, 12, 9, 18), "mercredi 9 décembre à 18\u00a0h"),
    ("fr", paris(2026, 12, 9, 18, 30), "mercredi 9 décembre à 18\u00a0h\u00a030"),
    ("en", paris(2026, 12, 9, 18), "Wednesday 9 December at 6\u00a0pm"),
    ("en", paris(2026, 12, 9, 9, 5), "Wednesday 9 December at 9:05\u00a0am"),
    ("fr", paris(2027, 1, 1, 0), "vendredi 1er janvier à 0\u00a0h"),
    ("en", paris(2027, 1, 1, 12), "Friday 1 January at 12\u00a0pm"),
    # Summer time: 16:00 UTC is 18:00 in Paris.
    ("fr", paris(2027, 6, 2, 18), "mercredi 2 juin à 18\u00a0h"),
])
def test_cut_off_as_people_say_it(app, lang, instant, said):
    from flask_babel import force_locale

    from marketplace.web.display import cutoff_people_say

    with app.test_request_context(), force_locale(lang):
        assert cutoff_people_say(instant) == said


def test_host_page_shows_cut_offs_in_words(client, host, db):
    point = factories.pickup_point(host=host)
    starts = paris(2026, 12, 10, 17)
    db.session.add(PickupSlot(pickup_point_id=point.id, starts_at=starts,
                              ends_at=starts + timedelta(hours=2),
                              cutoff_at=paris(2026, 12, 9, 18), capacity=4))
    services.add_schedule(db.session, point, weekday=3, starts_at=time(17), ends_at=time(19),
                          capacity=4, cutoff_days=2, cutoff_time=time(18, 30))
    db.session.commit()
    page = client.get(f"/pickup/points/{point.id}").get_data(as_text=True)
    assert "Orders until Wednesday 9 December at 6\u00a0pm" in page
    assert "Tuesday at 6:30\u00a0pm (2 days before)" in page
    with client.session_transaction() as session:
        session["lang"] = "fr"
    page = client.get(f"/pickup/points/{point.id}").get_data(as_text=True)
    assert "Commandes jusqu’au mercredi 9 décembre à 18\u00a0h" in page
    assert "Mardi à 18\u00a0h\u00a030 (2 jours avant)" in page


def test_host_sets_a_cut_off_the_day_before_at_18(client, host, form_post, db):
    point = factories.pickup_point(host=host)
    url = f"/pickup/points/{point.id}"
    response = form_post(f"{url}/schedules", schedule_data(
        cutoff_mode="days", cutoff_days="1", cutoff_time="18:00"), page=url)
    assert response.status_code == 302
    schedule = db.session.scalar(select(PickupSchedule))
    assert (schedule.cutoff_days, schedule.cutoff_time) == (1, time(18))
    assert "the day before at 6\u00a0pm" in client.get(url).get_data(as_text=True)


def test_host_sets_a_cut_off_on_a_weekday(client, host, form_post, db):
    point = factories.pickup_point(host=host)
    url = f"/pickup/points/{point.id}"
    response = form_post(f"{url}/schedules", schedule_data(
        cutoff_mode="weekday", cutoff_weekday="1", cutoff_time="18:00",
        cutoff_days="garbage", cutoff_hours=""), page=url)   # other ways: ignored
    assert response.status_code == 302
    schedule = db.session.scalar(select(PickupSchedule))
    assert (schedule.weekday, schedule.cutoff_days, schedule.cutoff_time) == (3, 2, time(18))


@pytest.mark.parametrize("clock", [paris(2026, 12, 21, 9)], indirect=True)  # a Monday
def test_see_the_effect_saves_nothing(client, host, form_post, db, clock):
    point = factories.pickup_point(host=host, postcode="56000")
    url = f"/pickup/points/{point.id}"
    response = form_post(f"{url}/schedules", schedule_data(
        weekday="4", cutoff_mode="days", cutoff_days="1", cutoff_time="18:00",
        preview="See the effect"), page=url)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    preview = page[page.index('id="cutoff-preview"'):]
    preview = preview[:preview.index("</div>")]
    # 25 December and 1 January are holidays: the next two are 8 and 15 January.
    assert "Friday 8 January, 17:00: orders until Thursday 7 January at 6\u00a0pm" in preview
    assert "orders until Thursday 14 January at 6\u00a0pm" in preview
    assert "December" not in preview
    assert db.session.scalar(select(PickupSchedule)) is None
    # What was typed stays in the form, ready to be saved.
    assert re.search(r'value="days"[^>]*checked|checked[^>]*value="days"', page)
    assert 'value="18:00"' in page


@pytest.mark.parametrize(("overrides", "message"), [
    ({"cutoff_mode": "days", "cutoff_days": "15", "cutoff_time": "18:00"},
     "Between 0 days (the same day) and 14 days."),
    ({"cutoff_mode": "days", "cutoff_days": "-1", "cutoff_time": "18:00"},
     "Between 0 days (the same day) and 14 days."),
    ({"cutoff_mode": "days", "cutoff_days": "", "cutoff_time": "18:00"},
     "Please enter a number of days."),
    ({"cutoff_mode": "days", "cutoff_days": "1", "cutoff_time": "25:00"},
     "Please enter a time as HH:MM"),
    ({"cutoff_mode": "days", "cutoff_days": "1", "cutoff_time": ""},
     "Please enter the time orders close."),
    ({"cutoff_mode": "days", "cutoff_days": "0", "cutoff_time": "18:00"},
     "On the day itself, orders must close by the opening time."),
    ({"cutoff_mode": "weekday", "cutoff_weekday": "8", "cutoff_time": "18:00"},
     "Please choose a day."),
    ({"cutoff_mode": "someday"}, "Not a valid choice."),
])
@pytest.mark.parametrize("button", ["submit", "preview"])
def test_impossible_cut_offs_are_refused_and_kept(client, host, form_post, db, overrides,
                                                  message, button):
    point = factories.pickup_point(host=host)
    url = f"/pickup/points/{point.id}"
    response = form_post(f"{url}/schedules", schedule_data(**overrides, **{button: "x"}),
                         page=url)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'id="cutoff-preview"' not in page
    for name in ("cutoff_days", "cutoff_time"):
        if overrides.get(name):
            assert f'value="{overrides[name]}"' in page
    assert db.session.scalar(select(PickupSchedule)) is None


# Public holidays on the host's page --------------------------------------------------------

def test_host_opens_and_closes_a_holiday(client, host, form_post, db):
    point = factories.pickup_point(host=host, postcode="56000")
    services.add_schedule(db.session, point, weekday=4, starts_at=time(17), ends_at=time(19),
                          capacity=5)
    db.session.commit()
    url = f"/pickup/points/{point.id}"
    page = client.get(url).get_data(as_text=True)
    assert "Friday 25 December 2026 — Christmas Day" in page
    assert "Friday 1 January 2027 — New Year&#39;s Day" in page
    assert "Open on 25 December all the same" in page
    response = form_post(f"{url}/holidays/2026-12-25/open", {}, page=url)
    assert response.status_code == 302
    assert services.coming_holidays(db.session, point, now=now(), tz="Europe/Paris")[0].opened
    services.generate_slots(db.session, weeks=8, now=now(), tz="Europe/Paris")
    db.session.commit()
    days = [s.starts_at.astimezone(PARIS).date().isoformat() for s in factories.slots_of(point)]
    assert "2026-12-25" in days
    assert "2027-01-01" not in days
    page = client.get(url).get_data(as_text=True)
    assert "Open all the same" in page
    assert "Close again on 25 December" in page
    response = form_post(f"{url}/holidays/2026-12-25/close", {}, page=url)
    assert response.status_code == 302
    db.session.expire_all()
    assert not services.coming_holidays(db.session, point, now=now(), tz="Europe/Paris")[0].opened


@pytest.mark.parametrize(("day", "action", "status"), [
    ("2026-12-24", "open", 400),       # not a holiday
    ("2026-11-11", "open", 400),       # past
    ("2026-12-25", "close", 400),      # not open
    ("2026-13-01", "open", 404),
    ("christmas", "open", 404),
    ("9" * 500, "close", 404),
])
def test_bad_holidays_are_refused(client, host, form_post, db, day, action, status):
    point = factories.pickup_point(host=host, postcode="56000")
    url = f"/pickup/points/{point.id}"
    assert form_post(f"{url}/holidays/{day}/{action}", {}, page=url).status_code == status
    assert client.post(f"{url}/holidays/2026-12-25/open").status_code == 400   # no CSRF


def test_a_holiday_an_order_holds_cannot_be_closed_again(client, host, form_post, db):
    point = factories.pickup_point(host=host, postcode="56000")
    services.add_schedule(db.session, point, weekday=4, starts_at=time(17), ends_at=time(19),
                          capacity=5)
    url = f"/pickup/points/{point.id}"
    db.session.commit()
    assert form_post(f"{url}/holidays/2026-12-25/open", {}, page=url).status_code == 302
    services.generate_slots(db.session, weeks=8, now=now(), tz="Europe/Paris")
    christmas = next(s for s in factories.slots_of(point)
                     if s.starts_at.astimezone(PARIS).date().isoformat() == "2026-12-25")
    christmas.taken = 1
    db.session.commit()
    response = form_post(f"{url}/holidays/2026-12-25/close", {}, page=url)
    assert response.status_code == 409
    assert "An order holds this holiday" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PickupSlot, christmas.id) is not None
