"""The tables (SQLAlchemy Core). Every table holding patient data leads with the
record's key (the INS) so data can be partitioned by patient without a redesign.

Timestamps are stored in UTC; local (Europe/Paris) dates are computed on write
where statistics need them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

INS = String(15)
UTC_TIME = DateTime(timezone=True)

beneficiary = Table(
    "beneficiary",
    metadata,
    Column("ins", INS, primary_key=True),
    Column("family_name", String(100), nullable=False),
    Column("given_names", String(100), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("sex", String(1), nullable=False),
    Column("department", String(3), nullable=False),
    Column("regime", String(32), nullable=False),
    Column("updated_at", UTC_TIME, nullable=False),
)

record = Table(
    "record",
    metadata,
    Column("ins", INS, primary_key=True),
    Column("status", String(8), nullable=False),
    Column("source", String(8), nullable=False),
    # Identity traits; emptied when the record is purged.
    Column("family_name", String(100)),
    Column("given_names", String(100)),
    Column("birth_date", Date),
    Column("sex", String(1)),
    Column("channel", String(16), nullable=False),
    Column("opened_by", String(16)),
    Column("department", String(3), nullable=False),
    Column("opened_at", UTC_TIME, nullable=False),
    Column("opened_day", Date, nullable=False),  # local date, for the rollups
    Column("consent_given_by", String(24)),
    Column("closed_at", UTC_TIME),
    Column("closed_by", String(24)),
    Column("close_reason", String(500)),
    Column("reopened_at", UTC_TIME),
    Column("purged_at", UTC_TIME),
    Column("version", Integer, nullable=False, default=1),
    # The purge's search: closed records by closure time (storage/records.py
    # find_closed_before). Open records, nearly all of them, and purged ones stay out
    # of it: an opening or an imported record pays no entry, and the purge reads only
    # its candidates whatever the number of records.
    Index(
        "ix_record_closed_at_ins",
        "closed_at",
        "ins",
        postgresql_where=text("status = 'closed'"),
        sqlite_where=text("status = 'closed'"),
    ),
)

# Openings per local day × channel × department; closures and reopenings on the day
# they happen, under the record's opening channel and department.
openings_daily = Table(
    "openings_daily",
    metadata,
    Column("day", Date, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("department", String(3), nullable=False),
    Column("opened", BigInteger, nullable=False, default=0),
    Column("closed", BigInteger, nullable=False, default=0),
    Column("reopened", BigInteger, nullable=False, default=0),
    PrimaryKeyConstraint("day", "channel", "department"),
)

# Openings per local day × channel × opener ('' for the holder online).
openings_by_opener = Table(
    "openings_by_opener",
    metadata,
    Column("day", Date, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("opener", String(16), nullable=False),
    Column("opened", BigInteger, nullable=False, default=0),
    PrimaryKeyConstraint("day", "channel", "opener"),
)

# The same counts per month (named by its first day): a long period reads its whole
# months here and only its partial months' days above (domain/periods.py).
openings_monthly = Table(
    "openings_monthly",
    metadata,
    Column("month", Date, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("department", String(3), nullable=False),
    Column("opened", BigInteger, nullable=False, default=0),
    PrimaryKeyConstraint("month", "channel", "department"),
    sqlite_with_rowid=False,
)

openings_by_opener_monthly = Table(
    "openings_by_opener_monthly",
    metadata,
    Column("month", Date, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("opener", String(16), nullable=False),
    Column("opened", BigInteger, nullable=False, default=0),
    PrimaryKeyConstraint("month", "channel", "opener"),
    sqlite_with_rowid=False,
)

# Per local day × channel only: day, week and channel groupings and the lifecycle
# totals read a few rows per day, whatever the number of departments.
openings_by_day = Table(
    "openings_by_day",
    metadata,
    Column("day", Date, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("opened", BigInteger, nullable=False, default=0),
    Column("closed", BigInteger, nullable=False, default=0),
    Column("reopened", BigInteger, nullable=False, default=0),
    PrimaryKeyConstraint("day", "channel"),
    sqlite_with_rowid=False,
)

audit_event = Table(
    "audit_event",
    metadata,
    Column("chain", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("at", UTC_TIME, nullable=False),
    Column("action", String(40), nullable=False),
    Column("outcome", String(10), nullable=False),
    Column("event", Text, nullable=False),  # canonical JSON, what the hash covers
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    PrimaryKeyConstraint("chain", "seq"),
)

audit_chain_head = Table(
    "audit_chain_head",
    metadata,
    Column("chain", String(32), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# --- who may see what (RULES R3, R8, R9, R11, R14) ---

# A professional's standing on a record: authorised by the holder, blocked, médecin
# traitant, or given the médecin traitant's rights. One row per (record, professional).
care_link = Table(
    "care_link",
    metadata,
    Column("ins", INS, nullable=False),
    Column("professional", String(11), nullable=False),  # RPPS
    Column("authorised", Boolean, nullable=False, default=False),
    Column("blocked", Boolean, nullable=False, default=False),
    Column("medecin_traitant", Boolean, nullable=False, default=False),
    Column("full_rights", Boolean, nullable=False, default=False),
    Column("first_access_at", UTC_TIME),  # R17: the holder is told of the first access
    Column("updated_at", UTC_TIME, nullable=False),
    PrimaryKeyConstraint("ins", "professional"),
)

# Emergency accesses declared by professionals, each with its reason and expiry (R14).
emergency_access = Table(
    "emergency_access",
    metadata,
    Column("ins", INS, nullable=False),
    Column("professional", String(11), nullable=False),
    Column("started_at", UTC_TIME, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("expires_at", UTC_TIME, nullable=False),
    PrimaryKeyConstraint("ins", "professional", "started_at"),
)

# The holder's choices made in advance about emergencies (R14), one row per record.
access_preferences = Table(
    "access_preferences",
    metadata,
    Column("ins", INS, primary_key=True),
    Column("refuse_bris_de_glace", Boolean, nullable=False, default=False),
    Column("refuse_samu", Boolean, nullable=False, default=False),
    Column("updated_at", UTC_TIME, nullable=False),
)

# A minor's legal representatives (R3), identified as they authenticate.
representative = Table(
    "representative",
    metadata,
    Column("ins", INS, nullable=False),
    Column("representative", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("since", UTC_TIME, nullable=False),
    PrimaryKeyConstraint("ins", "representative"),
)

# --- notices to the holder (RULES R17; docs/decisions/0006-notifications.md) ---

# Where the holder is told of R17 events, and their opt-ins; one row per record.
holder_contact = Table(
    "holder_contact",
    metadata,
    Column("ins", INS, primary_key=True),
    Column("email", String(254)),
    Column("phone", String(16)),
    Column("notify_new_documents", Boolean, nullable=False, default=False),
    Column("updated_at", UTC_TIME, nullable=False),
)

# Where a professional is told what concerns them (R14: an emergency access to a
# patient of whom they are the médecin traitant); loaded by the operator from the
# national directory (RPPS, MSSanté addresses). Not patient data.
professional_contact = Table(
    "professional_contact",
    metadata,
    Column("rpps", String(11), primary_key=True),
    Column("email", String(254), nullable=False),
    Column("updated_at", UTC_TIME, nullable=False),
)

# The outbox: one row per notice, written in the transaction of the event it reports,
# delivered later by a worker that leases rows (claimed_until/claimed_by) while it sends.
notification_outbox = Table(
    "notification_outbox",
    metadata,
    Column("ins", INS, nullable=False),
    Column("id", String(32), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("recipient", String(254)),  # NULL when undeliverable (no e-mail known)
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("message_id", String(100), nullable=False),  # the e-mail's Message-ID header
    Column("created_at", UTC_TIME, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    # Set only while pending, so the due notices are one range of this index.
    Column("next_attempt_at", UTC_TIME, index=True),
    Column("claimed_until", UTC_TIME),
    Column("claimed_by", String(100)),
    Column("last_error", String(500)),
    Column("sent_at", UTC_TIME),
    PrimaryKeyConstraint("ins", "id"),
)


# --- documents (issue 4) ---------------------------------------------------------

# One row per document version (RULES R6): its logical id, the producer's unique id
# (masterIdentifier, unique: a resend is idempotent), the metadata the access policy and
# the search need, and where its encrypted bytes lie. Replacing a document adds a row
# (`replaces`) and marks the old one superseded; deleting is logical (R7).
document = Table(
    "document",
    metadata,
    Column("ins", INS, nullable=False),
    Column("id", String(36), nullable=False),
    Column("master_identifier", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("replaces", String(36)),
    Column("status", String(16), nullable=False),  # current, superseded, entered-in-error
    Column("archived", Boolean, nullable=False),
    Column("type_code", String(16), nullable=False),  # LOINC
    Column("category", String(40), nullable=False),  # the matrix category of the type
    Column("class_code", String(40), nullable=False),
    Column("title", String(300), nullable=False),
    Column("author_id", String(15), nullable=False),  # RPPS, or the holder's INS
    Column("author_role", String(24), nullable=False),
    Column("author_profession", String(4)),
    Column("author_specialty", String(40)),
    Column("author_organisation", String(9)),
    Column("author_name", String(200)),
    Column("care_start", UTC_TIME),  # context.period
    Column("care_end", UTC_TIME),
    Column("created_at", UTC_TIME, nullable=False),  # the producer's creation date
    Column("published_at", UTC_TIME, nullable=False),  # DocumentReference.date
    Column("masked", Boolean, nullable=False),  # R12, by the holder
    Column("hidden_from_patient", Boolean, nullable=False),  # R13, by the author
    Column("hidden_from_representatives", Boolean, nullable=False),  # R3, by the author
    Column("confidentiality", String(8), nullable=False),
    Column("mime_type", String(80), nullable=False),
    Column("format_code", String(120)),
    Column("language", String(16)),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),  # of the plaintext
    Column("sha1", String(40), nullable=False),  # FHIR R4 Attachment.hash is SHA-1
    Column("awaiting_notice_at", UTC_TIME),  # R13: when the holder was told it awaits
    Column("blob_key", String(80), nullable=False),
    Column("submission_set", String(128), nullable=False),
    Column("description", String(1000)),
    PrimaryKeyConstraint("ins", "id"),
    Index("ix_document_id", "id", unique=True),
    Index("ix_document_master_identifier", "master_identifier", unique=True),
    Index("ix_document_ins_published_at", "ins", "published_at"),
    Index("ix_document_blob_key", "blob_key", unique=True),  # fsck: is this blob referenced
)

# The record's data key (envelope encryption, DESIGN: storage): a random AES-256 key
# wrapped by the operator's master key. Purging the record deletes this row, which makes
# every leftover copy of its documents unreadable (crypto-shredding).
record_key = Table(
    "record_key",
    metadata,
    Column("ins", INS, primary_key=True),
    Column("master_key_id", String(64), nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", UTC_TIME, nullable=False),
)

# --- portal accounts (issue 3) -----------------------------------------------------

# RULES R19; docs/decisions/0007-portal-accounts.md. Secrets are kept only as digests:
# SHA-256 of the 80-bit codes and of the session ids, a keyed HMAC of the 6-digit login
# codes, argon2id of the passwords; the TOTP seed sealed with AES-GCM (portal key).

# One live activation code per beneficiary: issuing again replaces it (the old one dies).
portal_activation = Table(
    "portal_activation",
    metadata,
    Column("ins", INS, primary_key=True),
    Column("code_hash", String(64), nullable=False),
    Column("issued_at", UTC_TIME, nullable=False),
    Column("expires_at", UTC_TIME, nullable=False),
    Column("used_at", UTC_TIME),
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", UTC_TIME),
    Column("lockouts", Integer, nullable=False, default=0),
)

# The holder's account: where login codes go, the password, the optional TOTP, the
# throttle of failed attempts (password or code).
portal_account = Table(
    "portal_account",
    metadata,
    Column("ins", INS, primary_key=True),
    Column("email", String(254), nullable=False),
    Column("password_hash", String(255), nullable=False),  # argon2id, PHC string
    Column("totp_secret", LargeBinary),  # sealed; NULL: login codes by e-mail
    Column("totp_pending", LargeBinary),  # sealed; a secret being enrolled
    Column("totp_last_step", BigInteger),  # a TOTP code is accepted once
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", UTC_TIME),
    Column("lockouts", Integer, nullable=False, default=0),
    Column("created_at", UTC_TIME, nullable=False),
    Column("password_changed_at", UTC_TIME, nullable=False),
    Column("last_login_at", UTC_TIME),
)

# Server-side sessions, found by the digest of the cookie's value. A session waiting for
# the second factor holds the digest of the code sent (10 minutes).
portal_session = Table(
    "portal_session",
    metadata,
    Column("ins", INS, nullable=False),
    Column("id_hash", String(64), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("created_at", UTC_TIME, nullable=False),
    Column("last_seen_at", UTC_TIME, nullable=False),
    Column("expires_at", UTC_TIME, nullable=False, index=True),  # absolute end; sweeps
    Column("otp_hash", String(64)),
    Column("otp_sent_at", UTC_TIME),
    PrimaryKeyConstraint("ins", "id_hash"),
    Index("ix_portal_session_id_hash", "id_hash", unique=True),
)

# A password reset under way: one live reset code per account (30 minutes, once).
portal_reset = Table(
    "portal_reset",
    metadata,
    Column("ins", INS, primary_key=True),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", UTC_TIME, nullable=False),
    Column("expires_at", UTC_TIME, nullable=False),
    Column("used_at", UTC_TIME),
)

# --- claims (issue 5) ----------------------------------------------------------------

# The insurer's claim lines (RULES R5; domain/claims.py), kept 24 months for every
# beneficiary. `claim_id` is the primary key: a re-sent line is found by one probe, and
# the insurer's ids rise with time, so new lines append at the key's right edge. A
# record's care history is one range of `ix_claim_ins` (at most 24 months of one
# person's lines, sorted by date in memory): that index holds the INS alone, so
# PostgreSQL stores each person's lines as one entry and a list of row addresses (B-tree
# deduplication): 9 MB for 1 M lines, against 59 MB for the (ins, care_date, claim_id)
# key it replaces, so more of it stays in memory as the table grows (decision 0010,
# migration 0011). On SQLite the table is the claim_id B-tree itself (WITHOUT ROWID).
claim = Table(
    "claim",
    metadata,
    Column("ins", INS, nullable=False),
    Column("care_date", Date, nullable=False),
    Column("claim_id", String(64), nullable=False),
    Column("category", String(16), nullable=False),
    Column("code", String(16), nullable=False),
    Column("label", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("performer_rpps", String(11)),
    Column("performer_name", String(100)),
    Column("performer_profession", String(2)),
    Column("prescriber_rpps", String(11)),
    Column("facility_finess", String(9)),
    PrimaryKeyConstraint("claim_id"),
    Index("ix_claim_ins", "ins"),
    sqlite_with_rowid=False,
)

# Where an import of a claims file stands, per file fingerprint (SHA-256 of its bytes):
# the position (bytes of the CSV text, or rows of a Parquet file) and line up to which
# every batch is committed, and the running counts. Updated in each batch's transaction,
# so a rerun after a crash resumes exactly there.
claim_import = Table(
    "claim_import",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("file_name", String(255), nullable=False),
    Column("file_size", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("line", BigInteger, nullable=False),  # the last line of the committed batches
    Column("read", BigInteger, nullable=False),
    Column("inserted", BigInteger, nullable=False),
    Column("duplicates", BigInteger, nullable=False),
    Column("conflicts", BigInteger, nullable=False),
    Column("rejected", BigInteger, nullable=False),
    Column("unknown", BigInteger, nullable=False),  # skipped: not in the registry
    Column("outside", BigInteger, nullable=False),  # skipped: older than the window
    Column("started_at", UTC_TIME, nullable=False),
    Column("updated_at", UTC_TIME, nullable=False),
    Column("finished_at", UTC_TIME),
)

# --- health profile (issue 4) --------------------------------------------------------

# The patient's health profile (RULES R5; domain/profile.py): one row per entry, its
# current version. The body is the FHIR resource as the client sent it (JSON, without
# id and meta, which the server sets); the columns are what the access policy (kind,
# author, status) and optimistic concurrency (version) need.
profile_entry = Table(
    "profile_entry",
    metadata,
    Column("ins", INS, nullable=False),
    Column("id", String(36), nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # active, entered-in-error
    Column("author_id", String(64), nullable=False),  # RPPS, INS or representative's id
    Column("author_role", String(24), nullable=False),
    Column("created_at", UTC_TIME, nullable=False),
    Column("updated_at", UTC_TIME, nullable=False),
    Column("body", Text, nullable=False),
    PrimaryKeyConstraint("ins", "id"),
    Index("ix_profile_entry_id", "id", unique=True),
)
