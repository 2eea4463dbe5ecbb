"""The schema in SQLAlchemy Core: every table, declared once on one MetaData.

The ORM classes (models/*.py) are mapped onto these tables (`__table__`); a command that only
reads, such as `duban problem list`, queries them directly and never imports the ORM
(issue 10, start-up cost). Alembic migrations must produce exactly this schema
(tests/integration/test_migrations.py compares them on SQLite and PostgreSQL).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from models.types import NAMING_CONVENTION, EmptyAsNull, UTCDateTime

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# ---- campaign ------------------------------------------------------------------------------
# A rectification campaign (专项行动) launched from a validated plan.
campaign = Table(
    "campaign",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("issuer", String(200), nullable=False),
    Column("document_number", EmptyAsNull(100)),
    Column("notice_prefix", String(50), nullable=False),
    # version in force
    Column("plan_version", Integer, default=1, server_default="1", nullable=False),
    Column("launched_at", UTCDateTime, nullable=False),
    Column("launched_by", String(100), nullable=False),
    Column("problem_seq", Integer, default=0, nullable=False),  # last problem number issued
    Column("version", Integer, default=1, nullable=False),
    # running (进行中) or closed (已总结): a closed campaign's ticks, reminders, spot checks
    # and notices stop; campaign_event holds who closed or reopened it and why.
    Column("status", String(20), default="running", server_default="running", nullable=False),
    Column("closed_at", UTCDateTime),
    Column("closed_by", String(100)),
    # A 文号 identifies one campaign; plans without one ("", stored as NULL) may be
    # launched side by side.
    UniqueConstraint("document_number"),
)

# One validated version of a campaign's plan; the campaign runs on its `plan_version`.
plan_version = Table(
    "plan_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    # the stored form, as duban.adapters.plan.encode_plan gives it
    Column("plan", JSON, nullable=False),
    Column("source", Text, nullable=False),  # the YAML text as uploaded
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("note", String(300), default="", nullable=False),  # why this version was made
    # Named as migration 0003 created it (the naming convention would add "_version").
    UniqueConstraint("campaign_id", "version", name="uq_plan_version_campaign_id"),
)

# A step in a campaign's own life (closed 总结, reopened), with who and why; never edited.
campaign_event = Table(
    "campaign_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("action", String(20), nullable=False),  # close / reopen
    Column("actor", String(100), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("note", Text, default="", nullable=False),
    Column("data", JSON, default=dict, nullable=False),
)

# A stage of a campaign and whether its stage run has happened.
campaign_stage = Table(
    "campaign_stage",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("name", String(100), nullable=False),
    Column("start", Date, nullable=False),
    Column("end", Date),  # None: runs until the campaign is closed (适时调整)
    Column("started_at", UTCDateTime),
    Column("completed_at", UTCDateTime),
    UniqueConstraint("campaign_id", "seq"),
)

# A town in a campaign's scope.
town = Table(
    "town",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("code", String(50), nullable=False),
    Column("name", String(100), nullable=False),
    UniqueConstraint("campaign_id", "code"),
)

# A village in a campaign's scope.
village = Table(
    "village",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("town_code", String(50), nullable=False),
    Column("code", String(50), nullable=False),
    Column("name", String(100), nullable=False),
    UniqueConstraint("campaign_id", "code"),
)

# A responsible office (责任办室); villages get one each so 各村 can be routed to.
office = Table(
    "office",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("code", String(80), nullable=False),
    Column("name", String(100), nullable=False),
    Column("level", String(20), nullable=False),
    Column("town_code", String(50)),
    Column("head", String(50), default="", nullable=False),
    Column("contacts", JSON, default=list, nullable=False),
    Column("webhook", String(500), default="", nullable=False),
    UniqueConstraint("campaign_id", "code"),
)


# ---- people --------------------------------------------------------------------------------
# A person who signs moves; role and scope decide what they may see and do.
app_user = Table(
    "app_user",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(50), unique=True, nullable=False),
    Column("name", String(50), nullable=False),
    Column("role", String(20), nullable=False),
    Column("office_code", String(80)),
    Column("town_code", String(50)),
    Column("village_code", String(50)),
    Column("email", String(200), default="", nullable=False),
    Column("password_hash", String(200)),
    Column("active", Boolean, default=True, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Office, town and village accounts belong to one campaign's unit (codes repeat across
    # campaigns); more campaigns only by an explicit grant (UserCampaignGrant, all_campaigns).
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="SET NULL")),
    Column("all_campaigns", Boolean, default=False, server_default=false(), nullable=False),
)

# An explicit grant: an office, town or village account may also act in this campaign.
user_campaign_grant = Table(
    "user_campaign_grant",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("granted_by", String(100), nullable=False),
    Column("granted_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", "campaign_id"),
)

# A user standing in (代理) for an office while its people are away.
substitute = Table(
    "substitute",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False),
    Column("office_code", String(80), nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("granted_by", String(100), nullable=False),
    Column("granted_at", UTCDateTime, nullable=False),
)

# A role a user holds besides their main one (兼任), e.g. a county clerk on a 督查组.
user_role = Table(
    "user_role",
    metadata,
    Column("user_id", Integer, ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(20), primary_key=True),
)


# ---- problem -------------------------------------------------------------------------------
# One problem on the ledger, routed to a lead office, with a deadline and a status.
problem = Table(
    "problem",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("code", String(30), nullable=False),  # 问题编号, e.g. WT-000123
    Column("natural_key", String(64), nullable=False),  # makes re-imports idempotent
    Column("source", String(50), nullable=False),
    Column("category", String(50), nullable=False),
    Column("town_code", String(50), nullable=False),
    Column("village_code", String(50)),
    Column("household_id", String(50)),
    Column("description", Text, nullable=False),
    Column("found_by", String(100), nullable=False),
    Column("found_on", Date, nullable=False),
    Column("detection_rule", String(50)),
    Column("facts", JSON),
    Column("status", String(30), nullable=False),
    Column("unrouted_reason", Text),
    Column("lead_office", String(80)),
    Column("routed_at", UTCDateTime),
    Column("tier", String(50)),
    Column("deadline", Date),
    Column("deadline_basis", String(200)),
    Column("submitted_by", String(100)),
    Column("rectified_by", String(100)),
    Column("review_passed_by", String(100)),
    Column("closed_at", UTCDateTime),
    Column("reopen_count", Integer, default=0, nullable=False),
    # +1 each time a move sets a new deadline: the reminder ladder's rungs restart per cycle
    Column("deadline_cycle", Integer, default=0, nullable=False),
    Column("recurrence_of", Integer, ForeignKey("problem.id")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, default=1, nullable=False),
    UniqueConstraint("campaign_id", "code"),
    UniqueConstraint("campaign_id", "natural_key"),
    Index("ix_problem_campaign_status_deadline", "campaign_id", "status", "deadline"),
    # With the status (and a town's with the lead office, migration 0026): a gather of an
    # office's or a town's rows checks those in the index, not on each row read.
    Index("ix_problem_campaign_lead_status", "campaign_id", "lead_office", "status"),
    Index("ix_problem_campaign_town_status_lead", "campaign_id", "town_code", "status",
          "lead_office"),
    Index("ix_problem_campaign_household_category", "campaign_id", "household_id", "category"),
)

# The ledger pages filter a campaign's problems by place, office, status or category and sort
# them by deadline, date or last move. Without an index to walk, a page of 50 out of a million
# rows means sorting them all; with a filter, the place and office indexes keep the walk to
# that slice (docs/web.md, "Load").
LEDGER_INDEXES = (
    Index("ix_problem_campaign_deadline_id", problem.c.campaign_id, problem.c.deadline,
          problem.c.id),
    Index("ix_problem_campaign_found_on_id", problem.c.campaign_id, problem.c.found_on,
          problem.c.id),
    Index("ix_problem_campaign_updated_at_id", problem.c.campaign_id, problem.c.updated_at,
          problem.c.id),
    Index("ix_problem_campaign_village", problem.c.campaign_id, problem.c.village_code),
    Index("ix_problem_campaign_town_deadline", problem.c.campaign_id, problem.c.town_code,
          problem.c.deadline, problem.c.id),
    # A town's pages in the other two orders (migration 0023): without them a town sorted by
    # date walked the campaign's whole date index, checking the town row by row.
    Index("ix_problem_campaign_town_found_on", problem.c.campaign_id, problem.c.town_code,
          problem.c.found_on, problem.c.id),
    Index("ix_problem_campaign_town_updated_at", problem.c.campaign_id, problem.c.town_code,
          problem.c.updated_at, problem.c.id),
    Index("ix_problem_campaign_lead_deadline", problem.c.campaign_id, problem.c.lead_office,
          problem.c.deadline, problem.c.id),
    # An office's pages by date found or last move (migration 0024): without them an office
    # sorted by date walked the campaign's whole date index, checking the office row by row
    # (its code order follows the heap's, which the code index walks well enough).
    Index("ix_problem_campaign_lead_found_on", problem.c.campaign_id, problem.c.lead_office,
          problem.c.found_on, problem.c.id),
    Index("ix_problem_campaign_lead_updated_at", problem.c.campaign_id, problem.c.lead_office,
          problem.c.updated_at, problem.c.id),
    Index("ix_problem_campaign_category", problem.c.campaign_id, problem.c.category),
    # Codes follow import order and imports come town by town: a town's codes are one
    # stretch of the campaign's code order, which only an index of its own walks well.
    Index("ix_problem_campaign_town_code", problem.c.campaign_id, problem.c.town_code,
          problem.c.code),
)

# A co-office (协办单位) of a problem, so scoped queries can join on it.
problem_co_office = Table(
    "problem_co_office",
    metadata,
    Column("problem_id", Integer, ForeignKey("problem.id", ondelete="CASCADE"), primary_key=True),
    Column("office_code", String(80), primary_key=True),
    # The problem's campaign, copied (the problem's key keeps it whole and deletes it with
    # the problem): an office's co-routed ids of one campaign are one stretch of the index
    # below. Keyed by office alone, a page of one county read every campaign's rows of that
    # office code: on a city's database, ten counties' (migration 0027).
    Column("campaign_id", Integer, nullable=False),
    Index("ix_problem_co_office_campaign_office_problem", "campaign_id", "office_code",
          "problem_id"),
)

# One move on a problem: who, in which role, when, from, to, note, evidence. Append-only.
audit_event = Table(
    "audit_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("problem_id", Integer, ForeignKey("problem.id", ondelete="CASCADE"), nullable=False),
    Column("action", String(30), nullable=False),
    Column("from_status", String(30)),
    Column("to_status", String(30), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("actor_role", String(20), nullable=False),
    Column("actor_name", String(100), default="", nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("note", Text, default="", nullable=False),
    Column("evidence", JSON, default=list, nullable=False),
    Column("data", JSON, default=dict, nullable=False),
    Index("ix_audit_event_problem_at", "problem_id", "at"),
)

# "As of a day" figures read the audit trail from a moment onwards; without this index each
# past-day report scans every event of every campaign.
AUDIT_TIME_INDEX = Index("ix_audit_event_campaign_at", audit_event.c.campaign_id,
                         audit_event.c.at)

# A supporting file (佐证资料) stored by content hash, never by a user-chosen path.
evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("problem_id", Integer, ForeignKey("problem.id", ondelete="CASCADE"), nullable=False),
    Column("sha256", String(64), index=True, nullable=False),
    Column("filename", String(200), nullable=False),  # shown only; never used as a path
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("phase", String(10), default="after", nullable=False),  # before / after
    Column("uploaded_by", String(100), nullable=False),
    Column("uploaded_at", UTCDateTime, nullable=False),
    Column("note", Text, default="", nullable=False),
    # The submission round it belongs to (1 + the problem's submissions before it); a round
    # is frozen once submitted, and the same file may come again in a later round.
    Column("submission_round", Integer, default=1, server_default="1", nullable=False),
    UniqueConstraint("problem_id", "sha256", "submission_round"),
)


# ---- register ------------------------------------------------------------------------------
# One household of the register, keyed by its 户编号 within a campaign.
household = Table(
    "household",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("household_id", String(50), nullable=False),
    Column("town_code", String(50), nullable=False),
    Column("village_code", String(50), nullable=False),
    Column("head", String(50), nullable=False),
    Column("members", Integer, nullable=False),
    Column("category", String(20), nullable=False),
    Column("monitoring_type", String(20)),
    Column("income_per_person", Integer, nullable=False),
    Column("house_grade", String(1), nullable=False),
    Column("tap_water", Boolean, nullable=False),
    Column("school_age_children", Integer, nullable=False),
    Column("children_out_of_school", Integer, nullable=False),
    Column("medical_insurance", Boolean, nullable=False),
    Column("sanitary_toilet", Boolean, nullable=False),
    # The facts the plan's `household.fields` define, by field key (a multiple choice as a
    # list); {} when the plan defines none.
    Column("facts", JSON, default=dict, server_default=text("'{}'"), nullable=False),
    UniqueConstraint("campaign_id", "household_id"),
    # A village's households in id order: the village scope's filter, the coverage counts and
    # the spot-check draw's n-th household of a village, from the index alone.
    Index("ix_household_campaign_village_town_id", "campaign_id", "village_code", "town_code",
          "household_id"),
)

# How many households each village has in a campaign's register, and its marks, recounted in
# the same transaction by every write of the register (services/intake.write_households, its
# only writer): the daily spot-check draw sizes its village strata from these rows and finds a
# drawn position from the nearest mark. Counted from the register's index, and each position
# walked from the village's first household, the draw grew with the register (1.5-1.9 s at
# 3,000,000 households; migration 0028).
# A village's marks are every MARK_EVERY-th of its households: a drawn household is found at
# most this many index entries from one, however large its village. The stored marks are
# spaced by it: changing it needs a migration that computes them again.
MARK_EVERY = 1024

village_households = Table(
    "village_households",
    metadata,
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"),
           primary_key=True),
    Column("town_code", String(50), primary_key=True),
    Column("village_code", String(50), primary_key=True),
    Column("households", Integer, nullable=False),
    # The 户编号 at positions 0, MARK_EVERY, 2 × MARK_EVERY … of the village in the database's
    # order of household ids.
    Column("marks", JSON, nullable=False),
)

# A household visit; one per household, visitor and day.
visit = Table(
    "visit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("household_id", String(50), nullable=False),
    Column("visitor", String(50), nullable=False),
    Column("visited_on", Date, nullable=False),
    Column("mode", String(20), nullable=False),
    Column("answered_by", String(50), default="", nullable=False),
    Column("findings", Text, default="", nullable=False),
    UniqueConstraint("campaign_id", "household_id", "visited_on", "visitor"),
)


# ---- field visits (issue 18) ---------------------------------------------------------------
# A visit recorded on a phone: the `visit` row plus what the phone adds. `client_id` is made on
# the phone, so a retried or repeated upload is stored once. `recorded_at` is the phone's clock
# as it was; `visited_at` that moment on the server's clock (the phone's offset at sync time
# taken off), which dates the visit and the deadlines of what it finds.
field_visit = Table(
    "field_visit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("visit_id", Integer, ForeignKey("visit.id", ondelete="CASCADE"), nullable=False,
           unique=True),
    Column("client_id", String(64), nullable=False),
    Column("username", String(50), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("visited_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("clock_offset_seconds", Integer, default=0, nullable=False),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("accuracy_m", Float),
    # the facts as the form recorded them, by key (fixed columns and plan fields), as written
    Column("facts", JSON, default=dict, nullable=False),
    UniqueConstraint("campaign_id", "client_id"),
)

# A photo or a signature of a phone visit, stored by hash among the evidence blobs.
field_visit_file = Table(
    "field_visit_file",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("field_visit_id", Integer, ForeignKey("field_visit.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("client_id", String(64), nullable=False),
    Column("kind", String(30), nullable=False),  # photo, visitor_signature, household_signature
    Column("sha256", String(64), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("taken_at", UTCDateTime),  # the phone's clock
    UniqueConstraint("campaign_id", "client_id"),
)

# A problem that the facts of a phone visit revealed (its 排查人 is the visitor).
field_visit_problem = Table(
    "field_visit_problem",
    metadata,
    Column("field_visit_id", Integer, ForeignKey("field_visit.id", ondelete="CASCADE"),
           primary_key=True),
    Column("problem_id", Integer, ForeignKey("problem.id", ondelete="CASCADE"),
           primary_key=True, index=True),
)

# The history of a household's facts: one row per fact a visit changed. Never edited.
household_fact_change = Table(
    "household_fact_change",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("household_id", String(50), nullable=False),
    Column("fact", String(80), nullable=False),  # a fixed column's key or a plan field's key
    Column("old_value", JSON),
    Column("new_value", JSON),
    Column("changed_by", String(50), nullable=False),  # username
    Column("changed_at", UTCDateTime, nullable=False),
    Column("field_visit_id", Integer, ForeignKey("field_visit.id", ondelete="CASCADE")),
    Index("ix_household_fact_change_household", "campaign_id", "household_id"),
)

# ---- review --------------------------------------------------------------------------------
# One day's draw for a campaign; its unique key makes a rerun return the same draw.
spot_check_draw = Table(
    "spot_check_draw",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("day", Date, nullable=False),
    # The campaign-level seed; each group and kind derives its own from it.
    Column("seed", BigInteger, nullable=False),
    Column("drawn_by", String(100), nullable=False),
    Column("drawn_at", UTCDateTime, nullable=False),
    Column("checks", Integer, nullable=False),  # how many spot checks the draw made
    Column("data", JSON, default=dict, nullable=False),  # pool sizes, quota shortfall
    UniqueConstraint("campaign_id", "day"),
)

# One drawn spot check: a supervision group checks a closed problem, household or village.
spot_check = Table(
    "spot_check",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    # None for a check a supervisor made outside the daily draw (不定期抽查).
    Column("draw_id", Integer, ForeignKey("spot_check_draw.id", ondelete="CASCADE")),
    Column("day", Date, nullable=False),
    Column("group_code", String(50), nullable=False),
    Column("kind", String(20), nullable=False),  # closed_problem / household / village
    Column("item_id", String(50), nullable=False),  # problem id, household id or village code
    Column("problem_id", Integer, ForeignKey("problem.id", ondelete="CASCADE")),
    Column("household_id", String(50)),
    Column("town_code", String(50), nullable=False),
    Column("village_code", String(50)),
    Column("draw_seed", String(200), nullable=False),  # the derived seed that drew it; "" ad hoc
    # The plan's name of a further household draw (seed 004: 专班排查入户); "" for the main ones.
    Column("purpose", String(100), default="", server_default="", nullable=False),
    Column("result", String(10), default="pending", nullable=False),  # pending/passed/failed
    Column("checked_by", String(100)),
    Column("checked_at", UTCDateTime),
    Column("note", Text, default="", nullable=False),
    # The problem a failed household or village check recorded (a closed problem reopens).
    Column("raised_problem_id", Integer, ForeignKey("problem.id", ondelete="SET NULL")),
    UniqueConstraint("campaign_id", "day", "group_code", "kind", "item_id"),
    Index("ix_spot_check_campaign_day", "campaign_id", "day"),
    Index("ix_spot_check_campaign_problem", "campaign_id", "problem_id"),
)

# A substitute granted or ended, or an office's problems reassigned in bulk. Append-only.
delegation_event = Table(
    "delegation_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE")),
    Column("kind", String(30), nullable=False),  # substitute_add / substitute_end / reassign_all
    Column("office_code", String(80), nullable=False),
    Column("to_office", String(80)),
    Column("subject", String(100)),  # the substitute's username
    Column("substitute_id", Integer),  # no FK: the log outlives the substitute row
    Column("actor", String(100), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("note", Text, default="", nullable=False),
    Column("data", JSON, default=dict, nullable=False),
    Index("ix_delegation_event_office_at", "office_code", "at"),
)


# ---- notice --------------------------------------------------------------------------------
# The next 文号 sequence number of one 机关代字 in one year; locked while numbering.
document_number_register = Table(
    "document_number_register",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("prefix", String(50), nullable=False),  # 机关代字, e.g. 沈巩督
    Column("year", Integer, nullable=False),
    Column("next_number", Integer, default=1, nullable=False),
    UniqueConstraint("prefix", "year"),
)

# An issued, numbered document; voided ones stay on record with their number.
notice = Table(
    "notice",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),  # notice / reminder / bulletin
    Column("number", String(100), unique=True, nullable=False),  # 文号
    Column("prefix", String(50), nullable=False),
    Column("year", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("office_code", String(80), nullable=False),  # addressee; "" for county-wide 通报
    Column("title", String(300), nullable=False),
    Column("problem_ids", JSON, default=list, nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("issued_by", String(100), nullable=False),
    Column("batch_key", String(200), nullable=False),
    Column("file_path", String(500), nullable=False),  # relative to the data directory
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    # A 督办通知书 over DUBAN_NOTICE_INLINE_LIMIT problems: its full list, an .xlsx beside it.
    Column("list_path", String(500)),  # relative to the data directory
    Column("list_sha256", String(64)),
    Column("list_size", Integer),
    Column("voided", Boolean, default=False, nullable=False),
    Column("void_reason", Text),
    Column("voided_at", UTCDateTime),
    Column("voided_by", String(100)),
    Column("reminders_sent", Integer, default=0, nullable=False),  # unacknowledged-notice reminders
    Column("last_reminded_on", Date),
    UniqueConstraint("prefix", "year", "seq"),
    UniqueConstraint("campaign_id", "kind", "batch_key", "office_code"),
    Index("ix_notice_campaign_office", "campaign_id", "office_code"),
)

# A problem on a live 督办通知书 to one office (its lead or a co-office).
notice_problem = Table(
    "notice_problem",
    metadata,
    Column("notice_id", Integer, ForeignKey("notice.id", ondelete="CASCADE"), primary_key=True),
    Column("problem_id", Integer, ForeignKey("problem.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("office_code", String(80), nullable=False),  # the addressee it is listed for
    Column("co_office", Boolean, default=False, nullable=False),  # listed for a co-office (配合)
    UniqueConstraint("problem_id", "kind", "office_code"),
)

# An office named in a notice's 抄送 line: a co-office the plan copies rather than notifies.
notice_copy = Table(
    "notice_copy",
    metadata,
    Column("notice_id", Integer, ForeignKey("notice.id", ondelete="CASCADE"), primary_key=True),
    Column("office_code", String(80), primary_key=True, index=True),
)

# The addressee's receipt (签收) of a notice: once per notice.
notice_receipt = Table(
    "notice_receipt",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("notice_id", Integer, ForeignKey("notice.id", ondelete="CASCADE"), unique=True, nullable=False),
    Column("office_code", String(80), nullable=False),
    Column("username", String(50), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)

# A rolling round of 督办通知书 for problems found after the rectify stage began.
notice_round = Table(
    "notice_round",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("round_key", String(30), nullable=False),  # 2022-09-27 or 2022-W39
    Column("ran_at", UTCDateTime, nullable=False),
    Column("notices", Integer, default=0, nullable=False),
    UniqueConstraint("campaign_id", "round_key"),
)


# ---- messaging -----------------------------------------------------------------------------
# One message to deliver, written in the same transaction as its cause; never deleted.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), index=True),
    Column("channel", String(20), nullable=False),  # inbox / email / webhook
    Column("recipient", String(500), nullable=False),  # office code, e-mail address or URL
    Column("office_code", String(80)),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("payload", JSON, default=dict, nullable=False),
    Column("status", String(20), default="pending", nullable=False),
    Column("attempts", Integer, default=0, nullable=False),
    Column("max_attempts", Integer, default=8, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("dedupe_key", String(200), unique=True, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("claimed_by", String(100)),
    Column("claimed_until", UTCDateTime),
    Column("sent_at", UTCDateTime),
    # The delivery worker's claim query: pending rows whose time has come, oldest first.
    Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
)

# A message in an office's (or one user's) in-app inbox.
inbox_message = Table(
    "inbox_message",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), index=True),
    Column("office_code", String(80), nullable=False),
    Column("username", String(50)),  # None: everyone in the office
    Column("audience", String(20), default="office", nullable=False),
    Column("kind", String(30), nullable=False),  # digest / notice / notice_unacknowledged
    Column("colour", String(10), default="", nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("payload", JSON, default=dict, nullable=False),
    Column("dedupe_key", String(200), unique=True, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # inside the send window; earlier rows wait
    Column("visible_from", UTCDateTime, nullable=False),
    Column("read_at", UTCDateTime),
    Column("read_by", String(50)),
    Index("ix_inbox_message_office_code_read_at", "office_code", "read_at"),
)

# A rung of the reminder ladder recorded for a problem (sent, or skipped after downtime): at most
# once per deadline cycle, by constraint.
reminder_fired = Table(
    "reminder_fired",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("problem_id", Integer, ForeignKey("problem.id", ondelete="CASCADE"), nullable=False),
    Column("rung_code", String(50), nullable=False),
    Column("action", String(20), nullable=False),
    Column("colour", String(10), default="", nullable=False),
    Column("office_code", String(80), nullable=False),  # lead office when it fired
    Column("town_code", String(50), nullable=False),
    Column("category", String(50), nullable=False),
    Column("deadline", Date, nullable=False),
    Column("due_on", Date, nullable=False),  # the rung's fire date (a working day)
    # the day the sweep recorded it (>= due_on after downtime)
    Column("fired_on", Date, nullable=False),
    Column("fired_at", UTCDateTime, nullable=False),
    Column("accrue_penalty", Boolean, default=False, nullable=False),  # read by the scoring service
    # the problem's deadline_cycle: a new deadline restarts the ladder
    Column("cycle", Integer, default=0, nullable=False),
    # why a due rung was recorded without being sent (a later rung was due at once); None: sent
    Column("skipped_reason", String(200)),
    UniqueConstraint("problem_id", "cycle", "rung_code"),
    Index("ix_reminder_fired_campaign_penalty", "campaign_id", "accrue_penalty"),
)

# One run of a campaign stage's flow; a rerun finds it and does only what is missing.
stage_run = Table(
    "stage_run",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("stage_seq", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),  # running / done
    Column("attempts", Integer, default=1, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("detail", JSON, default=dict, nullable=False),
    Column("last_error", Text),
    UniqueConstraint("campaign_id", "stage_seq"),
)

# The daily report of a campaign for one day: written once, at the plan's hour.
daily_report_run = Table(
    "daily_report_run",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("report_date", Date, nullable=False),
    Column("written_at", UTCDateTime, nullable=False),
    Column("sha256", String(64)),
    Column("file_path", String(500)),
    UniqueConstraint("campaign_id", "report_date"),
)

# Who leads the schedulers (SQLite; PostgreSQL uses an advisory lock instead).
scheduler_lease = Table(
    "scheduler_lease",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# When a problem's next rung falls due, so a sweep reads only what is due (not every row).
reminder_state = Table(
    "reminder_state",
    metadata,
    Column("problem_id", Integer, ForeignKey("problem.id", ondelete="CASCADE"), primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("deadline", Date, nullable=False),
    Column("next_due_on", Date),
    Index("ix_reminder_state_campaign_next_due", "campaign_id", "next_due_on"),
)


# ---- duty ----------------------------------------------------------------------------------
# One time a plan's duty falls due for one unit; created once, by its natural key.
duty_occurrence = Table(
    "duty_occurrence",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("duty_code", String(80), nullable=False),
    Column("office_code", String(80), nullable=False),  # who answers it
    Column("town_code", String(50), default="", nullable=False),
    Column("village_code", String(50), default="", nullable=False),  # "" unless 各村
    Column("day", Date, nullable=False),
    Column("opens_on", Date, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("status", String(10), default="open", nullable=False),  # open / done
    Column("done_on", Date),
    Column("done_at", UTCDateTime),
    Column("done_by", String(100)),
    Column("note", Text, default="", nullable=False),
    Column("evidence", JSON, default=list, nullable=False),  # [{sha256, filename, ...}]
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("campaign_id", "duty_code", "office_code", "village_code", "day"),
    Index("ix_duty_occurrence_campaign_office", "campaign_id", "office_code", "status"),
    Index("ix_duty_occurrence_campaign_status_due", "campaign_id", "status", "due_on"),
)

# A rung of the ladder that fired for a duty occurrence: at most once, by key.
duty_reminder_fired = Table(
    "duty_reminder_fired",
    metadata,
    Column("occurrence_id", Integer, ForeignKey("duty_occurrence.id", ondelete="CASCADE"), primary_key=True),
    Column("rung_code", String(50), primary_key=True),
    Column("fired_on", Date, nullable=False),
    Column("fired_at", UTCDateTime, nullable=False),
)

# A milestone (节点) of a problem the office reported reached, with its evidence.
problem_milestone = Table(
    "problem_milestone",
    metadata,
    Column("problem_id", Integer, ForeignKey("problem.id", ondelete="CASCADE"), primary_key=True),
    Column("milestone_code", String(80), primary_key=True),
    Column("due_on", Date, nullable=False),
    Column("reached_on", Date, nullable=False),
    Column("reached_at", UTCDateTime, nullable=False),
    Column("reached_by", String(100), nullable=False),
    Column("note", Text, default="", nullable=False),
    Column("evidence", JSON, default=list, nullable=False),
)

# A rung of the ladder that fired for one milestone of a problem: at most once, by key.
milestone_reminder_fired = Table(
    "milestone_reminder_fired",
    metadata,
    Column("problem_id", Integer, ForeignKey("problem.id", ondelete="CASCADE"), primary_key=True),
    Column("milestone_code", String(80), primary_key=True),
    Column("rung_code", String(50), primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("fired_on", Date, nullable=False),
    Column("fired_at", UTCDateTime, nullable=False),
)


# ---- reporting -----------------------------------------------------------------------------
# The figures of one scope (the campaign, a town or a lead office) as reported on a day.
daily_snapshot = Table(
    "daily_snapshot",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("day", Date, nullable=False),
    Column("scope_kind", String(10), nullable=False),  # campaign / town / office
    Column("scope_code", String(80), nullable=False),  # "" for the campaign row
    Column("found", Integer, nullable=False),  # on the ledger by then, not voided
    Column("unrouted", Integer, nullable=False),
    # with a responsible office: rectifying + awaiting_review + closed
    Column("routed", Integer, nullable=False),
    Column("rectifying", Integer, nullable=False),
    Column("awaiting_review", Integer, nullable=False),
    Column("closed", Integer, nullable=False),
    Column("overdue", Integer, nullable=False),
    Column("voided", Integer, nullable=False),
    Column("taken_at", UTCDateTime, nullable=False),
    # True: a day without a report (a weekend), rebuilt from the audit trail once it had ended
    # and kept for the trend chart; a report written for that day replaces it.
    Column("rebuilt", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("campaign_id", "day", "scope_kind", "scope_code"),
)

# A month's evaluation (月考评), frozen: once written it is shown, never recomputed.
monthly_ranking = Table(
    "monthly_ranking",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
    Column("month", Date, nullable=False),  # the first day of the month evaluated
    # the moment the figures describe: the end of the month
    Column("as_of", UTCDateTime, nullable=False),
    Column("frozen_at", UTCDateTime, nullable=False),
    Column("frozen_by", String(100), nullable=False),
    Column("by", String(10), nullable=False),  # town / office
    Column("policy", JSON, nullable=False),  # commend_top, name_bottom, by, and the score weights
    # ranked rows: position, score, standing, components, stats
    Column("rows", JSON, nullable=False),
    Column("penalties", JSON, nullable=False),  # the fines counted in the month, line by line
    Column("penalty_basis", String(10), nullable=False),  # accrued / ledger
    # the 文号 of its 通报, taken from the register when frozen ("" before issue 16)
    Column("number", String(50), nullable=False, server_default=""),
    UniqueConstraint("campaign_id", "month"),
)


# ---- web -----------------------------------------------------------------------------------
# A signed-in browser; the cookie holds a random token, the table only its hash.
web_session = Table(
    "web_session",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), unique=True, nullable=False),
    Column("user_id", Integer, ForeignKey("app_user.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ip", String(64), default="", nullable=False),
    Column("user_agent", String(300), default="", nullable=False),
    Column("revoked_at", UTCDateTime),
)

# One sign-in attempt; recent failures by username and address lock further tries.
login_attempt = Table(
    "login_attempt",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(50), nullable=False),
    Column("ip", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("success", Boolean, nullable=False),
    Index("ix_login_attempt_username_ip_at", "username", "ip", "at"),
)

# An account change (password set, user disabled or enabled) and who made it; append-only.
account_event = Table(
    "account_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(30), nullable=False),
    Column("subject", String(50), index=True, nullable=False),
    Column("note", String(300), default="", nullable=False),
)

# A kept count shared by the web server's processes (the ledger cube of a campaign and day, an
# office's co-office cells): counted by one process, read by the others while young
# (services/views/kept.py). counted_at is the database's clock in epoch seconds: it only
# decides when to count again. The payload is the count, zlib-compressed JSON.
kept_count = Table(
    "kept_count",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("counted_at", Float, nullable=False),
    Column("payload", LargeBinary, nullable=False),
)

# ---- plan editor -----------------------------------------------------------------------------
# A plan the county office is writing in the web editor (方案草稿): one row per draft, owned by
# the office of the county user who started it; launched_campaign_id once it was launched, or
# campaign_id when it amends a running campaign.
plan_draft = Table(
    "plan_draft",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("office", String(100), index=True, nullable=False),
    Column("title", String(200), nullable=False),
    Column("origin", String(200), default="", nullable=False),  # 空白 / 示范方案 … / 行动 N …
    Column("campaign_id", Integer, ForeignKey("campaign.id", ondelete="SET NULL")),
    Column("launched_campaign_id", Integer, ForeignKey("campaign.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
)

# Every save of a draft is a new numbered version (the YAML text); never changed.
plan_draft_version = Table(
    "plan_draft_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("draft_id", Integer, ForeignKey("plan_draft.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("saved_at", UTCDateTime, nullable=False),
    Column("saved_by", String(100), nullable=False),
    Column("note", String(300), default="", nullable=False),
    UniqueConstraint("draft_id", "version"),
)


# Tables other programs keep in duban's database: the embedded scheduler's job store
# (APScheduler creates it; tasks/scheduler.JOBS_TABLE). Alembic's autogenerate and
# `alembic check` leave them alone instead of proposing to drop them (migrations/env.py).
FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    """Whether Alembic compares this schema object: not the tables duban does not own."""
    del obj, reflected, compare_to
    return not (type_ == "table" and name in FOREIGN_TABLES)
