-- Edge schema 7: the operator's note on a count (production_event.note, at most 500 bytes,
-- checked by the catalog on every write path). The first column the catalog gained since
-- edges said their schema: a central of this release serves edge schema 6 as well, giving
-- its rows NULL notes and leaving the column out of what it sends it
-- (sync/schema_translation.h).
ALTER TABLE "production_event" ADD COLUMN "note" TEXT;
