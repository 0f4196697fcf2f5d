-- Central schema 17: the versions of a fleet's edges.
--
-- Each site's edge says its store schema and build in every Hello (from this release on; an
-- edge of a release before says neither). Central serves edges of the edge schema it was
-- built with and of the one before, and refuses others with both versions named: the
-- last Hello served or refused is kept here for the fleet view (sync-health), with the
-- refusal, cleared once the site is served again.
ALTER TABLE "@SCHEMA@".sync_site ADD COLUMN edge_schema integer CHECK (edge_schema >= 0);
ALTER TABLE "@SCHEMA@".sync_site ADD COLUMN edge_build text CHECK (length(edge_build) <= 64);
ALTER TABLE "@SCHEMA@".sync_site ADD COLUMN edge_refusal text;
ALTER TABLE "@SCHEMA@".sync_site ADD COLUMN edge_refused_at timestamptz;
GRANT UPDATE (edge_schema, edge_build, edge_refusal, edge_refused_at) ON "@SCHEMA@".sync_site TO "@APP@";
