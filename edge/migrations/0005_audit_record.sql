-- Edge schema 5: the audit trail (catalog table audit_record): every supervisor and quality
-- action, synced to central like other facts, never changed or deleted.
CREATE TABLE IF NOT EXISTS "audit_record" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT NOT NULL,
  "actor_id" TEXT CHECK (length("actor_id") = 36),
  "actor_name" TEXT NOT NULL,
  "actor_role" TEXT NOT NULL,
  "action" TEXT NOT NULL,
  "table_name" TEXT NOT NULL,
  "row_id" TEXT CHECK (length("row_id") = 36),
  "old_value" TEXT CHECK ("old_value" IS NULL OR json_valid("old_value")),
  "new_value" TEXT CHECK ("new_value" IS NULL OR json_valid("new_value")),
  "reason" TEXT,
  "at" INTEGER NOT NULL,
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "audit_record_site_id_at_idx" ON "audit_record" ("site_id", "at");
CREATE INDEX IF NOT EXISTS "audit_record_row_id_idx" ON "audit_record" ("row_id");
CREATE TRIGGER IF NOT EXISTS "audit_record_no_update" BEFORE UPDATE ON "audit_record" BEGIN SELECT RAISE(ABORT, 'audit_record rows are never changed or deleted'); END;
CREATE TRIGGER IF NOT EXISTS "audit_record_no_delete" BEFORE DELETE ON "audit_record" BEGIN SELECT RAISE(ABORT, 'audit_record rows are never changed or deleted'); END;
