"""flowdsl.scheduling: Schedule and its checks with Argo's rules, triggers, words, times."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import flowdsl.scheduling as sched
from flowdsl import flow, task
from flowdsl.errors import CompileError, FlowDSLError, OptionError
from flowdsl.scheduling import (
    EventTrigger,
    Schedule,
    ScheduledTime,
    WebhookTrigger,
    describe,
    next_times,
    parse_time,
    times_between,
)

PARIS = ZoneInfo("Europe/Paris")


@task
def stamp(when: ScheduledTime, source: str) -> str:
    return f"{when.isoformat()} {source}"


@task
def echo(text: str) -> str:
    return text


class TestCronRules:
    """Cron lines are checked with Argo's (robfig's ParseStandard) rules."""

    @pytest.mark.parametrize(
        "line",
        [
            "* * * * *",
            "0 3 * * *",
            "*/15 0-6 1,15 jan-mar mon-fri",
            "0 3 * * 0",
            "5 4 1-10/2 * SUN",
            "0 12 ? * *",
            "@daily",
            "@every 1h30m",
            "@every 90s",
            "@every 1.5h",
        ],
    )
    def test_valid_lines_are_accepted(self, line: str) -> None:
        """Five fields within range, names, steps, lists, descriptors and @every pass."""
        assert Schedule(line).crons == (line,)

    def test_six_fields_are_refused_with_the_five_field_form(self) -> None:
        """A seconds field is an error that shows the line without it."""
        with pytest.raises(OptionError) as info:
            Schedule("0 0 3 * * *")
        assert str(info.value) == (
            "parameter 'schedule': cron line '0 0 3 * * *' has 6 fields; Argo's cron has "
            "exactly 5 (minute hour day-of-month month day-of-week) and no seconds field; "
            "drop the seconds: '0 3 * * *'"
        )

    def test_seven_fields_with_a_year_are_refused(self) -> None:
        """Quartz-style lines (seconds and a year) are refused the same way."""
        with pytest.raises(OptionError, match=r"has 7 fields.*drop the seconds: '0 3 \* \* \*'"):
            Schedule("0 0 3 * * * 2026")

    def test_weekday_seven_is_an_error_that_shows_sunday(self) -> None:
        """Argo counts Sunday as 0: 7 is refused, with the line fixed."""
        with pytest.raises(OptionError) as info:
            Schedule("0 3 * * 7")
        assert str(info.value) == (
            "parameter 'schedule': cron line '0 3 * * 7': day-of-week '7' is out of range 0-6 "
            "(Argo numbers Sunday 0, not 7); write '0 3 * * 0' for Sunday"
        )

    def test_every_without_a_unit_is_an_error(self) -> None:
        """``@every 90`` has no unit; the fix shows it with one."""
        with pytest.raises(OptionError) as info:
            Schedule("@every 90")
        assert str(info.value) == (
            "parameter 'schedule': cron line '@every 90': '90' has no unit (a duration needs "
            "a unit: s, m or h); write e.g. '@every 90s', '@every 15m' or '@every 1h30m'"
        )

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ("0 3 * 13 *", "month '13': 13 is out of range 1-12"),
            ("60 3 * * *", "minute '60': 60 is out of range 0-59"),
            ("0 24 * * *", "hour '24': 24 is out of range 0-23"),
            ("0 3 0 * *", "day-of-month '0': 0 is out of range 1-31"),
            ("0 3 * * 1-9", "day-of-week '1-9': 9 is out of range 0-6"),
            ("0 3 L * *", "day-of-month 'L': 'L' is not a number"),
            ("*/0 * * * *", "minute '*/0': the step of '*/0' must be a whole number, 1 or more"),
            ("0 5-3 * * *", "hour '5-3': the range '5-3' starts after it ends"),
            ("0 3 * * *,", "day-of-week '*,': an empty list item"),
        ],
    )
    def test_out_of_range_and_malformed_fields_name_the_field(
        self, line: str, message: str
    ) -> None:
        """The message names the field and what is wrong with it."""
        with pytest.raises(OptionError, match="cron line .*" + message.replace("*", r"\*")):
            Schedule(line)

    def test_wrong_field_count(self) -> None:
        """Four fields: the expected five are listed, with an example."""
        with pytest.raises(OptionError) as info:
            Schedule("0 3 * *")
        assert info.value.problem == (
            "cron line '0 3 * *' has 4 fields (expected 5: minute hour day-of-month month "
            "day-of-week)"
        )
        assert info.value.fix == "write e.g. '0 3 * * *' (every day at 03:00)"

    def test_unknown_descriptor(self) -> None:
        """Only robfig's descriptors exist."""
        with pytest.raises(OptionError, match="'@nightly' is not a known descriptor; use one"):
            Schedule("@nightly")

    def test_inline_time_zone_points_to_timezone(self) -> None:
        """``CRON_TZ=`` in the line is refused in favour of ``timezone=``."""
        with pytest.raises(OptionError) as info:
            Schedule("CRON_TZ=Europe/Paris 0 3 * * *")
        assert info.value.fix == "write Schedule('0 3 * * *', timezone='Europe/Paris')"

    def test_every_with_a_bad_duration(self) -> None:
        """A duration Go cannot read is refused."""
        with pytest.raises(OptionError, match="'1 hour' is not a Go duration"):
            Schedule("@every 1 hour")

    def test_lists_of_lines(self) -> None:
        """Several lines are kept in order; an empty list or a repeated line is refused."""
        assert Schedule(["0 3 * * *", "@hourly"]).crons == ("0 3 * * *", "@hourly")
        with pytest.raises(OptionError, match="the list of cron lines is empty"):
            Schedule([])
        with pytest.raises(OptionError, match="'@daily' is listed twice"):
            Schedule(["@daily", "@daily"])

    def test_spaces_are_normalised(self) -> None:
        """Runs of spaces become one (the manifest is deterministic)."""
        assert Schedule("0  3 * *   *").crons == ("0 3 * * *",)


class TestScheduleFields:
    """The other fields of Schedule."""

    def test_defaults(self) -> None:
        """Allow, no zone, no deadline, Argo's history, not suspended."""
        schedule = Schedule("@daily")
        assert (schedule.timezone, schedule.concurrency, schedule.starting_deadline) == (
            None,
            "Allow",
            None,
        )
        assert (schedule.history, schedule.suspend, schedule.stop_after_failures) == (
            None,
            False,
            None,
        )

    def test_unknown_time_zone_suggests_the_close_name(self) -> None:
        """A misspelt IANA name is refused with the name it resembles."""
        with pytest.raises(OptionError) as info:
            Schedule("@daily", timezone="Europe/Pariss")
        assert str(info.value) == (
            "parameter 'timezone': 'Europe/Pariss' is not an IANA time zone name; did you "
            "mean 'Europe/Paris'? use a name of the tz database, e.g. timezone='Europe/Paris', "
            "'UTC' or 'America/New_York'"
        )

    def test_local_is_not_a_portable_zone(self) -> None:
        """ "Local" (the controller's zone) is refused: it is not a real name."""
        with pytest.raises(OptionError, match="'Local' is not an IANA time zone name"):
            Schedule("@daily", timezone="Local")

    def test_concurrency_is_one_of_argos_three(self) -> None:
        """Case matters, as in Argo; the fix names the right spelling."""
        with pytest.raises(OptionError) as info:
            Schedule("@daily", concurrency="forbid")  # type: ignore[arg-type]
        assert info.value.parameter == "concurrency"
        assert info.value.fix is not None
        assert info.value.fix.startswith("did you mean 'Forbid'?")

    @pytest.mark.parametrize(
        ("value", "seconds"),
        [(600, 600), ("10m", 600), ("1h30m", 5400), (dt.timedelta(minutes=2), 120), (0, 0)],
    )
    def test_starting_deadline_forms(self, value: object, seconds: int) -> None:
        """Seconds, a Go duration or a timedelta, stored as whole seconds."""
        assert Schedule("@daily", starting_deadline=value).starting_deadline == seconds  # type: ignore[arg-type]

    @pytest.mark.parametrize("value", [-1, "soon", 1.5, True])
    def test_bad_starting_deadline(self, value: object) -> None:
        """Negative, unreadable or fractional deadlines are refused."""
        with pytest.raises(OptionError, match="must be a whole number of seconds"):
            Schedule("@daily", starting_deadline=value)  # type: ignore[arg-type]

    def test_history_and_stop_and_suspend(self) -> None:
        """history is (successful, failed); stop_after_failures is 1 or more."""
        schedule = Schedule("@daily", history=(5, 2), stop_after_failures=3, suspend=True)
        assert (schedule.history, schedule.stop_after_failures, schedule.suspend) == (
            (5, 2),
            3,
            True,
        )
        with pytest.raises(OptionError, match="must be \\(successful, failed\\)"):
            Schedule("@daily", history=(1,))  # type: ignore[arg-type]
        with pytest.raises(OptionError, match="parameter 'stop_after_failures'"):
            Schedule("@daily", stop_after_failures=0)
        with pytest.raises(OptionError, match="parameter 'suspend'"):
            Schedule("@daily", suspend="yes")  # type: ignore[arg-type]

    def test_replace_checks_again(self) -> None:
        """replace() gives a new checked Schedule; unknown fields are refused."""
        schedule = Schedule("@daily").replace(timezone="UTC", cron="@hourly")
        assert (schedule.crons, schedule.timezone) == (("@hourly",), "UTC")
        with pytest.raises(OptionError, match="Schedule has no field\\(s\\) colour"):
            Schedule("@daily").replace(colour="red")

    def test_frozen(self) -> None:
        """A Schedule is a frozen value."""
        with pytest.raises(AttributeError):
            Schedule("@daily").timezone = "UTC"  # type: ignore[misc]
        assert Schedule("@daily", timezone="UTC") == Schedule("@daily", timezone="UTC")


class TestAttach:
    """@flow(schedule=...), flowdsl.schedule and the checks against the flow."""

    def test_a_string_becomes_a_schedule(self) -> None:
        """A cron line (or a list) is turned into a Schedule."""

        @flow(schedule="0 3 * * *")
        def nightly(source: str = "s3://raw") -> str:
            return echo(source)

        assert nightly.flow_options.schedule == Schedule("0 3 * * *")

    def test_invalid_line_in_the_decorator_names_the_flow(self) -> None:
        """The error has the flow's name and location."""
        with pytest.raises(OptionError) as info:

            @flow(schedule="0 3 * * 7")
            def weekly(source: str = "s3://raw") -> str:
                return echo(source)

        assert info.value.flow == "weekly"
        assert info.value.parameter == "schedule"
        assert info.value.location is not None
        assert "test_scheduling.py" in info.value.location

    def test_not_a_schedule(self) -> None:
        """Other values are refused with the accepted forms."""
        with pytest.raises(OptionError, match="option 'schedule' must be a cron line"):

            @flow(schedule=3)
            def bad(source: str = "x") -> str:
                return echo(source)

    def test_name_too_long_for_a_cron_workflow(self) -> None:
        """A flow name over 52 characters cannot be scheduled."""
        name = "n" * 53

        def body() -> None: ...

        with pytest.raises(OptionError) as info:
            flow(name=name, schedule="@daily")(body)
        assert info.value.problem == (
            f"the CronWorkflow name '{name}' is 53 characters long, over Argo's limit of 52 "
            "(a run is named '<name>-<10-digit time>', which must fit in 63)"
        )

    def test_required_parameter_is_refused(self) -> None:
        """Every parameter needs a default, except the scheduled time."""

        @flow
        def report(day: str, run_at: ScheduledTime) -> str:
            return echo(day)

        with pytest.raises(OptionError) as info:
            sched.schedule(report, "@daily")
        assert str(info.value).startswith(
            "flow 'report', parameter 'day' (tests/test_scheduling.py:"
        )
        assert info.value.problem == (
            "has no default, but a scheduled run has nobody to give it a value"
        )
        assert info.value.fix == (
            "give it a default (day: ... = ...), or, if it is the run's time, declare it as "
            "day: flowdsl.ScheduledTime"
        )

    def test_required_parameter_is_refused_at_compile_time_too(self) -> None:
        """Declared in the decorator, the check also runs when the CronWorkflow is made."""
        from flowdsl._cron import compile_cron

        def declare_and_compile() -> None:
            @flow(image="python:3.11", schedule="@daily")
            def report(day: str, run_at: ScheduledTime) -> str:
                return echo(day)

            compile_cron(report)

        # Flow.__init__ may check the schedule before it has read the parameters; then the
        # compile-time check catches it (either way the error names the parameter).
        with pytest.raises((CompileError, OptionError), match="parameter 'day'"):
            declare_and_compile()

    def test_scheduled_time_needs_no_default(self) -> None:
        """A ScheduledTime parameter is given by the schedule."""

        @flow(schedule="@daily")
        def daily(run_at: ScheduledTime, source: str = "raw") -> str:
            return stamp(run_at, source)

        assert daily.flow_options.schedule is not None

    def test_schedule_function_variants(self) -> None:
        """Set, change fields, replace; the original flow is left as it was."""

        @flow(schedule="@daily")
        def job(source: str = "raw") -> str:
            return echo(source)

        changed = sched.schedule(job, timezone="Europe/Paris")
        assert changed.flow_options.schedule == Schedule("@daily", timezone="Europe/Paris")
        assert job.flow_options.schedule == Schedule("@daily")
        other = sched.schedule(job, "0 4 * * *", concurrency="Forbid")
        assert other.flow_options.schedule == Schedule("0 4 * * *", concurrency="Forbid")
        given = Schedule("@hourly")
        assert sched.schedule(job, given, suspend=True).flow_options.schedule == Schedule(
            "@hourly", suspend=True
        )

    def test_schedule_function_errors(self) -> None:
        """Nothing to set, a bad field, or not a flow."""

        @flow
        def plain(source: str = "raw") -> str:
            return echo(source)

        with pytest.raises(OptionError, match="there is no schedule to set"):
            sched.schedule(plain)
        with pytest.raises(OptionError, match=r"flow 'plain'.*parameter 'timezone'"):
            sched.schedule(plain, "@daily", timezone="Mars/Base")
        with pytest.raises(OptionError, match=r"flowdsl\.schedule takes a @flow"):
            sched.schedule(echo, "@daily")  # type: ignore[arg-type]


class TestTriggers:
    """EventTrigger and WebhookTrigger, checked against the flow."""

    def test_event_trigger_fields(self) -> None:
        """Names are Kubernetes-style; the Sensor key comes from source and event."""
        trigger = EventTrigger("minio", "new-object", params={"key": "a.b"})
        assert trigger.key == "minio_new_object"
        assert EventTrigger("minio", "x", name="files").key == "files"
        with pytest.raises(OptionError, match="EventTrigger source must be a Kubernetes-style"):
            EventTrigger("Minio!", "x")
        with pytest.raises(OptionError, match="EventTrigger name must be letters"):
            EventTrigger("minio", "x", name="new-object")
        with pytest.raises(OptionError, match="params must map flow parameter names"):
            EventTrigger("minio", "x", params={"key": ""})
        with pytest.raises(OptionError, match="filter 'kind' must accept one value"):
            EventTrigger("minio", "x", filters={"kind": ["a", 1]})

    def test_webhook_trigger_fields(self) -> None:
        """Payload keys are dotted names; discriminators are Kubernetes-style names."""
        assert WebhookTrigger(params={"key": "object.key"}).params == {"key": "object.key"}
        with pytest.raises(OptionError, match=r"payload key 'a\.\.b' is not a dotted path"):
            WebhookTrigger(params={"key": "a..b"})
        with pytest.raises(OptionError, match="WebhookTrigger discriminator must be"):
            WebhookTrigger(discriminator="New Data")

    def test_mapping_to_an_unknown_parameter(self) -> None:
        """The message names the trigger, the payload key and the parameters."""

        @flow
        def retrain(bucket_key: str, lr: float = 0.01) -> str:
            return echo(bucket_key)

        trigger = EventTrigger("minio", "new-object", params={"bucket_ky": "Records.0.key"})
        with pytest.raises(OptionError) as info:
            retrain.with_options(triggers=[trigger])
        assert str(info.value).startswith("flow 'retrain', parameter 'bucket_ky' (")
        assert info.value.problem == (
            "event 'minio/new-object' maps payload key 'Records.0.key' to parameter "
            "'bucket_ky', which the flow does not have (parameters: bucket_key, lr)"
        )
        assert info.value.fix == (
            "did you mean 'bucket_key'? map payload keys to the flow's parameters, e.g. "
            "params={'bucket_key': 'Records.0.key'}"
        )

    def test_a_required_parameter_must_be_mapped(self) -> None:
        """A triggered run needs a value for every parameter without a default."""

        @flow
        def retrain(bucket_key: str, lr: float = 0.01) -> str:
            return echo(bucket_key)

        with pytest.raises(OptionError) as info:
            retrain.with_options(triggers=[WebhookTrigger(params={"lr": "rate"})])
        assert info.value.parameter == "bucket_key"
        assert info.value.problem == (
            "has no default and webhook '<flow>' does not map a payload key to it, so a "
            "triggered run would have no value for it"
        )

    def test_python_names_and_duplicates(self) -> None:
        """A Python parameter name maps too; two triggers with one name clash."""

        @flow
        def retrain(bucket_key: str = "k") -> str:
            return echo(bucket_key)

        ok = retrain.with_options(triggers=[EventTrigger("minio", "a", params={"bucket_key": "k"})])
        assert len(ok.flow_options.triggers) == 1
        with pytest.raises(OptionError, match="two event triggers are both named 'same'"):
            retrain.with_options(
                triggers=[EventTrigger("a", "b", name="same"), EventTrigger("c", "d", name="same")]
            )
        with pytest.raises(OptionError, match="both make the WorkflowEventBinding 'retrain'"):
            retrain.with_options(triggers=[WebhookTrigger(), WebhookTrigger()])

    def test_not_triggers(self) -> None:
        """Only trigger values are accepted."""

        @flow
        def job(text: str = "x") -> str:
            return echo(text)

        with pytest.raises(
            OptionError, match=r"takes flowdsl\.EventTrigger and flowdsl\.WebhookTrigger"
        ):
            job.with_options(triggers=["minio"])


class TestWords:
    """describe(): the schedule in words."""

    @pytest.mark.parametrize(
        ("lines", "zone", "words"),
        [
            ("0 3 * * *", "Europe/Paris", "At 03:00, Europe/Paris"),
            ("* * * * *", None, "Every minute"),
            ("*/5 * * * *", None, "Every 5 minutes"),
            ("0 * * * *", None, "Every hour"),
            ("15,45 * * * *", None, "At minute 15 and 45 past every hour"),
            ("0 */6 * * *", None, "Every 6 hours"),
            ("30 */6 * * *", None, "Every 6 hours, at minute 30"),
            ("0 9,17 * * *", None, "At 09:00 and 17:00"),
            ("0 9 * * 1-5", None, "At 09:00 from Monday to Friday"),
            ("0 9 * * mon,wed,fri", None, "At 09:00 on Monday, Wednesday and Friday"),
            ("0 0 1 * *", None, "At 00:00 on day 1 of the month"),
            ("0 0 1,15 * *", None, "At 00:00 on days 1 and 15 of the month"),
            ("0 0 1 1 *", None, "At 00:00 on 1 January"),
            ("0 6 * 7 *", None, "At 06:00 in July"),
            ("@daily", None, "At 00:00"),
            ("@weekly", "UTC", "At 00:00 on Sunday, UTC"),
            ("@every 1h30m", None, "Every 1h30m"),
            (["0 3 * * *", "30 12 * * 6"], "Europe/Paris",
             "At 03:00 and at 12:30 on Saturday, Europe/Paris"),
            ("5 4 1-10/2 * *", None, "cron '5 4 1-10/2 * *'"),
            ("0 0 1 * 1", None, "cron '0 0 1 * 1'"),
        ],
    )  # fmt: skip
    def test_forms(self, lines: str | list[str], zone: str | None, words: str) -> None:
        """Common forms in words, others as written."""
        assert describe(Schedule(lines, timezone=zone)) == words
        assert Schedule(lines, timezone=zone).words == words


class TestTimes:
    """next_times and times_between (croniter, with robfig's semantics)."""

    def test_next_times_in_the_zone_across_schedules(self) -> None:
        """Two lines merge in order; times are in the schedule's zone."""
        schedule = Schedule(["0 3 * * *", "30 12 * * 6"], timezone="Europe/Paris")
        times = next_times(schedule, 4, after=dt.datetime(2026, 1, 2, 12, 0, tzinfo=PARIS))
        assert [t.isoformat() for t in times] == [
            "2026-01-03T03:00:00+01:00",
            "2026-01-03T12:30:00+01:00",
            "2026-01-04T03:00:00+01:00",
            "2026-01-05T03:00:00+01:00",
        ]

    def test_next_times_follow_daylight_saving(self) -> None:
        """03:00 Paris is +01:00 in winter and +02:00 in summer."""
        schedule = Schedule("0 3 * * *", timezone="Europe/Paris")
        times = next_times(schedule, 2, after=dt.datetime(2026, 3, 28, 12, 0, tzinfo=PARIS))
        assert [t.isoformat() for t in times] == [
            "2026-03-29T03:00:00+02:00",
            "2026-03-30T03:00:00+02:00",
        ]

    def test_a_utc_after_is_converted(self) -> None:
        """``after`` in another zone counts from the same instant."""
        schedule = Schedule("0 3 * * *", timezone="Europe/Paris")
        after = dt.datetime(2026, 1, 1, 2, 30, tzinfo=dt.timezone.utc)  # 03:30 in Paris
        assert next_times(schedule, 1, after=after)[0].isoformat() == "2026-01-02T03:00:00+01:00"

    def test_day_of_month_and_weekday_or_when_both_restricted(self) -> None:
        """robfig: both restricted means either; a '*' in one of them means both."""
        both = Schedule("0 0 13 * 5")  # the 13th, or any Friday
        start = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
        days = [t.day for t in next_times(both, 3, after=start)]
        assert days == [6, 13, 20]  # Fri 6, the 13th (a Friday too), Fri 20
        star_step = Schedule("0 0 */2 * 1")  # robfig: '*/2' counts as '*', so AND
        times = next_times(star_step, 2, after=start)
        assert all(t.weekday() == 0 and t.day % 2 == 1 for t in times)

    def test_every_counts_from_after(self) -> None:
        """@every has no fixed times: it counts from ``after``."""
        start = dt.datetime(2026, 1, 1, 10, 0, tzinfo=dt.timezone.utc)
        times = next_times(Schedule("@every 90m"), 2, after=start)
        assert [t.strftime("%H:%M") for t in times] == ["11:30", "13:00"]

    def test_times_between_includes_both_ends(self) -> None:
        """A time equal to the start or the end is in the range."""
        schedule = Schedule("0 3 * * *", timezone="Europe/Paris")
        first = dt.datetime(2026, 1, 1, 3, 0, tzinfo=PARIS)
        last = dt.datetime(2026, 1, 3, 3, 0, tzinfo=PARIS)
        times = times_between(schedule, first, last, limit=100)
        assert [t.day for t in times] == [1, 2, 3]

    def test_times_between_stops_past_the_limit(self) -> None:
        """At most limit + 1 times, so a caller can refuse large ranges."""
        schedule = Schedule("* * * * *")
        first = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        times = times_between(schedule, first, first + dt.timedelta(days=1), limit=10)
        assert len(times) == 11


class TestParseTime:
    """parse_time: command-line times."""

    def test_forms(self) -> None:
        """Dates, date-times with and without offsets, Z."""
        value, date_only = parse_time("2026-01-31", option="--from", zone=PARIS)
        assert (value.isoformat(), date_only) == ("2026-01-31T00:00:00+01:00", True)
        value, date_only = parse_time("2026-01-31T03:00", option="--at", zone=PARIS)
        assert (value.isoformat(), date_only) == ("2026-01-31T03:00:00+01:00", False)
        value, _ = parse_time("2026-01-31T03:00Z", option="--at", zone=PARIS)
        assert value.isoformat() == "2026-01-31T03:00:00+00:00"

    def test_bad_text(self) -> None:
        """The error names the option and shows valid forms."""
        with pytest.raises(FlowDSLError) as info:
            parse_time("yesterday", option="--from", zone=PARIS)
        assert str(info.value) == (
            "parameter '--from': 'yesterday' is not a date or a date-time; write e.g. --from "
            "2026-01-31 or --from 2026-01-31T03:00 (ISO 8601; an offset such as +01:00 is "
            "optional)"
        )
