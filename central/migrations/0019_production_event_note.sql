-- Central schema 19: the operator's note on a count (production_event.note, edge schema 7).
-- An edge of schema 6 sends its events without one; they keep NULL here, and central leaves
-- the column out of what it sends such an edge (sync/schema_translation.h).
ALTER TABLE "@SCHEMA@"."production_event" ADD COLUMN "note" text;
