/*
 * migrate: the schema, as an ordered list of migrations.  PRAGMA
 * user_version is the number of migrations applied; each runs in its own
 * IMMEDIATE transaction together with the version bump, so a crash
 * leaves the database at one version or the next, never between.  A
 * database newer than this program is refused (never "downgraded").
 * Migrations are append-only: a released one is never edited.
 *
 * Times are unix seconds (INTEGER).  Addresses are normalised
 * (store_address_normalize).  Identity NULL means unattributed.
 */
#include <errno.h>
#include <stdio.h>

#include "store_int.h"

/* clang-format off */
static const char *const migrations[] = {
	/* 1: the first schema. */
	/* One row per distinct feedback message: the dedupe memory. */
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  dedupe_key BLOB NOT NULL UNIQUE,"    /* SHA-256, see dedupe.c */
	"  received INTEGER NOT NULL,"          /* when rebound stored it */
	"  time INTEGER NOT NULL,"              /* report time */
	"  kind TEXT NOT NULL,"                 /* dsn arf autoreply prose none */
	"  layout TEXT,"
	"  feedback_id TEXT,"
	"  identity TEXT,"
	"  attribution TEXT NOT NULL,"
	"  trusted INTEGER NOT NULL,"
	"  subject TEXT,"
	"  sender TEXT,"                        /* From of the feedback */
	"  source TEXT,"
	"  size INTEGER NOT NULL"
	");"
	"CREATE INDEX messages_received ON messages(received);"
	/* The feedback message itself (encodings: raw.c). */
	"CREATE TABLE raw_messages ("
	"  message_id INTEGER PRIMARY KEY"
	"    REFERENCES messages(id) ON DELETE CASCADE,"
	"  received INTEGER NOT NULL,"
	"  encoding INTEGER NOT NULL,"
	"  size INTEGER NOT NULL,"              /* bytes before compression */
	"  data BLOB NOT NULL"
	");"
	"CREATE INDEX raw_received ON raw_messages(received);"
	/* One row per recipient (or per event without one). */
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  message_id INTEGER NOT NULL"
	"    REFERENCES messages(id) ON DELETE CASCADE,"
	"  time INTEGER NOT NULL,"
	"  identity TEXT,"
	"  type TEXT NOT NULL,"                 /* SES eventType */
	"  reason TEXT,"
	"  bounce_type TEXT,"
	"  recipient TEXT,"                     /* normalised, or as reported */
	"  domain TEXT,"                        /* of the recipient */
	"  status TEXT,"
	"  feedback_type TEXT,"
	"  trusted INTEGER NOT NULL,"
	"  json TEXT NOT NULL"
	");"
	"CREATE INDEX events_message ON events(message_id);"
	"CREATE INDEX events_identity_time ON events(identity, time);"
	/* No index on recipient yet: it cost 6-15 % of ingest and nothing
	 * looks events up by address; the API that does adds it. */
	/* Untrusted feedback is rare: a partial index costs nothing. */
	"CREATE INDEX events_untrusted ON events(time) WHERE trusted = 0;"
	/* Feedback the classifier could not make sense of. */
	"CREATE TABLE review ("
	"  id INTEGER PRIMARY KEY,"
	"  message_id INTEGER NOT NULL UNIQUE"
	"    REFERENCES messages(id) ON DELETE CASCADE,"
	"  time INTEGER NOT NULL,"
	"  why TEXT NOT NULL,"
	"  json TEXT NOT NULL"
	");"
	/* Hourly counters per identity (hour = unix time / 3600). */
	"CREATE TABLE counters ("
	"  identity TEXT NOT NULL,"
	"  hour INTEGER NOT NULL,"
	"  sends INTEGER NOT NULL DEFAULT 0,"
	"  hard INTEGER NOT NULL DEFAULT 0,"
	"  soft INTEGER NOT NULL DEFAULT 0,"
	"  undetermined INTEGER NOT NULL DEFAULT 0,"
	"  complaints INTEGER NOT NULL DEFAULT 0,"
	"  not_spam INTEGER NOT NULL DEFAULT 0,"
	"  auto_replies INTEGER NOT NULL DEFAULT 0,"
	"  deliveries INTEGER NOT NULL DEFAULT 0,"
	"  delays INTEGER NOT NULL DEFAULT 0,"
	"  untrusted INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (identity, hour)"
	") WITHOUT ROWID;"
	"CREATE INDEX counters_hour ON counters(hour);"
	/* Alert state per identity and metric, and its transitions. */
	"CREATE TABLE alert_state ("
	"  identity TEXT NOT NULL,"
	"  metric TEXT NOT NULL CHECK (metric IN ('bounce', 'complaint')),"
	"  state INTEGER NOT NULL,"             /* enum store_status */
	"  since INTEGER NOT NULL,"
	"  PRIMARY KEY (identity, metric)"
	") WITHOUT ROWID;"
	"CREATE TABLE alerts ("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  identity TEXT NOT NULL,"
	"  metric TEXT NOT NULL,"
	"  from_state INTEGER NOT NULL,"
	"  to_state INTEGER NOT NULL,"
	"  value REAL NOT NULL,"
	"  threshold REAL NOT NULL,"
	"  sends INTEGER NOT NULL"
	");"
	"CREATE INDEX alerts_identity ON alerts(identity, id);"
	/* Global list: time-limited, escalating (see suppress.c). */
	"CREATE TABLE suppression_global ("
	"  address TEXT PRIMARY KEY,"
	"  reason TEXT NOT NULL,"               /* the bounce reason */
	"  since INTEGER NOT NULL,"
	"  until INTEGER NOT NULL,"
	"  ttl INTEGER NOT NULL,"               /* length of this period */
	"  strikes INTEGER NOT NULL,"
	"  event_id INTEGER"                    /* no FK: events are pruned */
	") WITHOUT ROWID;"
	"CREATE INDEX suppression_global_until ON suppression_global(until);"
	/* Account-level list: kept until removed. */
	"CREATE TABLE suppression_account ("
	"  account TEXT NOT NULL,"
	"  address TEXT NOT NULL,"
	"  reason TEXT NOT NULL CHECK (reason IN ('BOUNCE', 'COMPLAINT')),"
	"  since INTEGER NOT NULL,"
	"  origin TEXT NOT NULL,"               /* auto, manual, import */
	"  event_id INTEGER,"
	"  PRIMARY KEY (account, address)"
	") WITHOUT ROWID;"
	"CREATE INDEX suppression_account_address"
	"  ON suppression_account(address);",
	/* 2: the indexes of the HTTP API's event queries (query.c): newest
	 * first across identities, and by recipient.  Each costs ingest a
	 * few per cent; paging a million events without them is a scan. */
	"CREATE INDEX events_time ON events(time);"
	"CREATE INDEX events_recipient ON events(recipient, time);",
	/* 3: Kafka (outbox.c).  What is still to be published, in the
	 * order it happened: AUTOINCREMENT, so an id is never reused once
	 * the publisher has emptied the table. */
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  topic INTEGER NOT NULL,"             /* enum store_topic */
	"  key TEXT,"                           /* suppression: address */
	"  ref INTEGER,"                        /* events.id, alerts.id */
	"  created INTEGER NOT NULL"
	");"
	/* Next offset to consume per partition of the sends topic, kept in
	 * the transaction that counted the records before it. */
	"CREATE TABLE kafka_offsets ("
	"  topic TEXT NOT NULL,"
	"  partition INTEGER NOT NULL,"
	"  next INTEGER NOT NULL,"
	"  PRIMARY KEY (topic, partition)"
	") WITHOUT ROWID;"
	/* Counters and marks of the Kafka side (expiry sweep, malformed
	 * send records). */
	"CREATE TABLE kafka_state ("
	"  name TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL"
	") WITHOUT ROWID;",
	/* 4: the breakdowns of a reputation (rates.c) read only this
	 * index, never the rows: 20 times faster than fetching each event
	 * (partial: only what a breakdown counts). */
	"CREATE INDEX events_breakdown ON events(identity, time, type,"
	"  bounce_type, reason, domain, feedback_type, trusted)"
	"  WHERE trusted = 1 AND type IN ('Bounce', 'Complaint');",
	/* 5: the breakdowns counted at ingest (breakdown.c), in the
	 * counters row of their identity and hour: a reputation reads the
	 * rows of its window once, not every event.  The index of migration
	 * 4 served only the count by event and goes.  The blobs are made
	 * from the events at the first open (breakdown_check, which
	 * store_meta tells what to redo). */
	"ALTER TABLE counters ADD COLUMN breakdown BLOB;"
	/* Marks of the store itself (name -> value). */
	"CREATE TABLE store_meta ("
	"  name TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL"
	") WITHOUT ROWID;"
	"DROP INDEX events_breakdown;",
	/* 6: unsubscribes (opt-out reports: Apple Mail's one-click) counted
	 * apart, out of the complaint rate: those counted as complaints
	 * before move, hour by hour, from the events; the breakdowns are
	 * recounted at open (their mark in store_meta goes). */
	"ALTER TABLE counters ADD COLUMN unsubscribes INTEGER NOT NULL"
	"  DEFAULT 0;"
	"UPDATE counters SET unsubscribes = u.n,"
	"  complaints = max(complaints - u.n, 0)"
	"  FROM (SELECT identity, time / 3600 AS hour, count(*) AS n"
	"    FROM events WHERE type = 'Complaint' AND feedback_type = 'opt-out'"
	"    AND trusted = 1 AND identity IS NOT NULL GROUP BY 1, 2) AS u"
	"  WHERE counters.identity = u.identity AND counters.hour = u.hour;"
	"DELETE FROM store_meta WHERE name = 'breakdown_providers';",
};
/* clang-format on */

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int
migrate_latest(void)
{
	return N_MIGRATIONS;
}

static int
user_version(sqlite3 *db, int *v_r)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v_r = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
migrate_run(sqlite3 *db, const char *path, struct rb_error *err)
{
	char sql[64];
	int v;

	if (user_version(db, &v) < 0)
		return rb_error_set(err, EIO,
		    "%s: reading the schema "
		    "version: %s",
		    path, sqlite3_errmsg(db));
	while (v < N_MIGRATIONS) {
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
		    SQLITE_OK)
			return rb_error_set(err, EIO, "%s: migration %d: %s",
			    path, v + 1, sqlite3_errmsg(db));
		/* Another process may have migrated meanwhile. */
		if (user_version(db, &v) < 0) {
			rb_error_set(
			    err, EIO, "%s: %s", path, sqlite3_errmsg(db));
			(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		if (v >= N_MIGRATIONS) {
			(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			break;
		}
		(void)snprintf(
		    sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (sqlite3_exec(db, migrations[v], NULL, NULL, NULL) !=
		        SQLITE_OK ||
		    sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			rb_error_set(err, EIO, "%s: migration %d: %s", path,
			    v + 1, sqlite3_errmsg(db));
			(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		v++;
	}
	if (v > N_MIGRATIONS)
		return rb_error_set(err, EINVAL,
		    "%s: schema version %d is newer than this rebound "
		    "(%d); use a newer rebound",
		    path, v, N_MIGRATIONS);
	return 0;
}
