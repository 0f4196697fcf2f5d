// The edge store's schema version of this build, which both daemons know: the edge
// migrates its store to it (edge/migrations) and says it in every Hello; central serves
// edges of this schema and of the one before, so a fleet upgrades site by site, central
// first. An edge outside that window is refused with both versions named, and keeps
// working offline until it or central is upgraded.
#pragma once

namespace millrace {

inline constexpr int kEdgeSchemaVersion = 7;
inline constexpr int kOldestServedEdgeSchema = kEdgeSchemaVersion - 1;
// An edge of a release before edges said their schema (releases up to 12, of edge schemas 5
// and 6, which cannot be told apart) counts as the older: served while central serves 5.
inline constexpr int kUnreportedEdgeSchema = 5;

}  // namespace millrace
