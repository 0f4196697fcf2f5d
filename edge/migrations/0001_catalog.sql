-- Edge schema 1: the MES catalog as released (frozen: never edit a released migration).
CREATE TABLE IF NOT EXISTS "equipment" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT,
  "parent_id" TEXT CHECK (length("parent_id") = 36),
  "level" TEXT NOT NULL CHECK ("level" IN ('enterprise', 'site', 'area', 'work_center', 'work_unit')),
  "code" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "equipment_class" TEXT,
  "ideal_cycle_time_s" REAL,
  "active" INTEGER NOT NULL CHECK ("active" IN (0, 1)),
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "equipment_site_id_parent_id_idx" ON "equipment" ("site_id", "parent_id");
CREATE INDEX IF NOT EXISTS "equipment_code_idx" ON "equipment" ("code");
CREATE TABLE IF NOT EXISTS "material_definition" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT,
  "code" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "revision" TEXT NOT NULL,
  "unit" TEXT NOT NULL,
  "tracking" TEXT NOT NULL CHECK ("tracking" IN ('none', 'lot', 'serial')),
  "active" INTEGER NOT NULL CHECK ("active" IN (0, 1)),
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "material_definition_code_revision_idx" ON "material_definition" ("code", "revision");
CREATE TABLE IF NOT EXISTS "bom" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT,
  "material_id" TEXT NOT NULL CHECK (length("material_id") = 36),
  "revision" TEXT NOT NULL,
  "base_quantity" REAL NOT NULL,
  "active" INTEGER NOT NULL CHECK ("active" IN (0, 1)),
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "bom_material_id_idx" ON "bom" ("material_id");
CREATE TABLE IF NOT EXISTS "bom_line" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT,
  "bom_id" TEXT NOT NULL CHECK (length("bom_id") = 36),
  "line_no" INTEGER NOT NULL,
  "component_id" TEXT NOT NULL CHECK (length("component_id") = 36),
  "quantity_per" REAL NOT NULL,
  "unit" TEXT NOT NULL,
  "scrap_factor" REAL NOT NULL,
  "operation_seq" INTEGER,
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "bom_line_bom_id_idx" ON "bom_line" ("bom_id");
CREATE TABLE IF NOT EXISTS "routing" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT,
  "material_id" TEXT NOT NULL CHECK (length("material_id") = 36),
  "revision" TEXT NOT NULL,
  "active" INTEGER NOT NULL CHECK ("active" IN (0, 1)),
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "routing_material_id_idx" ON "routing" ("material_id");
CREATE TABLE IF NOT EXISTS "routing_operation" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT,
  "routing_id" TEXT NOT NULL CHECK (length("routing_id") = 36),
  "seq" INTEGER NOT NULL,
  "op_code" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "work_center_id" TEXT CHECK (length("work_center_id") = 36),
  "setup_time_s" REAL NOT NULL,
  "ideal_cycle_time_s" REAL NOT NULL,
  "inspection_plan_id" TEXT CHECK (length("inspection_plan_id") = 36),
  "allow_overlap" INTEGER NOT NULL CHECK ("allow_overlap" IN (0, 1)),
  "required_qualification" TEXT,
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "routing_operation_routing_id_seq_idx" ON "routing_operation" ("routing_id", "seq");
CREATE TABLE IF NOT EXISTS "reason_code" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT,
  "parent_id" TEXT CHECK (length("parent_id") = 36),
  "code" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "category" TEXT NOT NULL CHECK ("category" IN ('downtime', 'scrap', 'rework', 'defect')),
  "oee_bucket" TEXT CHECK ("oee_bucket" IN ('availability', 'performance', 'quality')),
  "loss_class" TEXT CHECK ("loss_class" IN ('breakdown', 'setup_adjustment', 'minor_stop', 'reduced_speed', 'process_defect', 'startup_reject', 'planned')),
  "planned" INTEGER NOT NULL CHECK ("planned" IN (0, 1)),
  "is_failure" INTEGER NOT NULL CHECK ("is_failure" IN (0, 1)),
  "active" INTEGER NOT NULL CHECK ("active" IN (0, 1)),
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "reason_code_category_code_idx" ON "reason_code" ("category", "code");
CREATE TABLE IF NOT EXISTS "inspection_plan" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT,
  "code" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "material_id" TEXT CHECK (length("material_id") = 36),
  "revision" TEXT NOT NULL,
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "inspection_plan_code_idx" ON "inspection_plan" ("code");
CREATE TABLE IF NOT EXISTS "inspection_characteristic" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT,
  "plan_id" TEXT NOT NULL CHECK (length("plan_id") = 36),
  "seq" INTEGER NOT NULL,
  "name" TEXT NOT NULL,
  "kind" TEXT NOT NULL CHECK ("kind" IN ('measured', 'pass_fail')),
  "unit" TEXT,
  "nominal" REAL,
  "lsl" REAL,
  "usl" REAL,
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "inspection_characteristic_plan_id_seq_idx" ON "inspection_characteristic" ("plan_id", "seq");
CREATE TABLE IF NOT EXISTS "location" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT,
  "code" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "kind" TEXT NOT NULL CHECK ("kind" IN ('warehouse', 'staging', 'line_side', 'quarantine', 'shipping')),
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "location_site_id_code_idx" ON "location" ("site_id", "code");
CREATE TABLE IF NOT EXISTS "shift_pattern" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT,
  "code" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "start_minute" INTEGER NOT NULL,
  "end_minute" INTEGER NOT NULL,
  "weekdays" INTEGER NOT NULL,
  "planned_breaks" TEXT NOT NULL CHECK ("planned_breaks" IS NULL OR json_valid("planned_breaks")),
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "shift_pattern_site_id_code_idx" ON "shift_pattern" ("site_id", "code");
CREATE TABLE IF NOT EXISTS "users" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT,
  "badge_id" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "pin_hash" TEXT NOT NULL,
  "role" TEXT NOT NULL CHECK ("role" IN ('operator', 'supervisor', 'quality')),
  "sites" TEXT NOT NULL CHECK ("sites" IS NULL OR json_valid("sites")),
  "qualifications" TEXT NOT NULL CHECK ("qualifications" IS NULL OR json_valid("qualifications")),
  "active" INTEGER NOT NULL CHECK ("active" IN (0, 1)),
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "users_badge_id_idx" ON "users" ("badge_id");
CREATE TABLE IF NOT EXISTS "work_order" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT NOT NULL,
  "number" TEXT NOT NULL,
  "material_id" TEXT NOT NULL CHECK (length("material_id") = 36),
  "bom_id" TEXT CHECK (length("bom_id") = 36),
  "routing_id" TEXT CHECK (length("routing_id") = 36),
  "routing_snapshot" TEXT CHECK ("routing_snapshot" IS NULL OR json_valid("routing_snapshot")),
  "planned_quantity" REAL NOT NULL,
  "planned_start" INTEGER,
  "planned_end" INTEGER,
  "due_at" INTEGER,
  "priority" INTEGER NOT NULL,
  "line_id" TEXT CHECK (length("line_id") = 36),
  "status" TEXT NOT NULL CHECK ("status" IN ('Draft', 'Released', 'InProgress', 'OnHold', 'Completed', 'Closed', 'Cancelled')),
  "actual_start" INTEGER,
  "actual_end" INTEGER,
  "good_quantity" REAL NOT NULL,
  "scrap_quantity" REAL NOT NULL,
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "work_order_site_id_status_idx" ON "work_order" ("site_id", "status");
CREATE INDEX IF NOT EXISTS "work_order_site_id_due_at_idx" ON "work_order" ("site_id", "due_at");
CREATE INDEX IF NOT EXISTS "work_order_number_idx" ON "work_order" ("number");
CREATE TABLE IF NOT EXISTS "work_order_operation" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT NOT NULL,
  "work_order_id" TEXT NOT NULL CHECK (length("work_order_id") = 36),
  "seq" INTEGER NOT NULL,
  "routing_operation_id" TEXT CHECK (length("routing_operation_id") = 36),
  "op_code" TEXT NOT NULL,
  "work_unit_id" TEXT CHECK (length("work_unit_id") = 36),
  "status" TEXT NOT NULL CHECK ("status" IN ('Pending', 'Ready', 'Running', 'Paused', 'Completed', 'Cancelled')),
  "planned_quantity" REAL NOT NULL,
  "good_quantity" REAL NOT NULL,
  "scrap_quantity" REAL NOT NULL,
  "rework_quantity" REAL NOT NULL,
  "ideal_cycle_time_s" REAL NOT NULL,
  "actual_start" INTEGER,
  "actual_end" INTEGER,
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "work_order_operation_work_order_id_seq_idx" ON "work_order_operation" ("work_order_id", "seq");
CREATE INDEX IF NOT EXISTS "work_order_operation_site_id_work_unit_id_status_idx" ON "work_order_operation" ("site_id", "work_unit_id", "status");
CREATE TABLE IF NOT EXISTS "material_lot" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT NOT NULL,
  "lot_no" TEXT NOT NULL,
  "material_id" TEXT NOT NULL CHECK (length("material_id") = 36),
  "quantity" REAL NOT NULL,
  "unit" TEXT NOT NULL,
  "status" TEXT NOT NULL CHECK ("status" IN ('available', 'quarantine', 'hold', 'consumed', 'scrapped')),
  "location_id" TEXT CHECK (length("location_id") = 36),
  "expires_at" INTEGER,
  "produced_by_operation_id" TEXT CHECK (length("produced_by_operation_id") = 36),
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "material_lot_lot_no_idx" ON "material_lot" ("lot_no");
CREATE INDEX IF NOT EXISTS "material_lot_site_id_material_id_status_idx" ON "material_lot" ("site_id", "material_id", "status");
CREATE TABLE IF NOT EXISTS "non_conformance" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT NOT NULL,
  "source" TEXT NOT NULL CHECK ("source" IN ('measurement', 'operator', 'inspection', 'supplier', 'customer')),
  "lot_id" TEXT CHECK (length("lot_id") = 36),
  "work_order_id" TEXT CHECK (length("work_order_id") = 36),
  "operation_id" TEXT CHECK (length("operation_id") = 36),
  "quantity" REAL NOT NULL,
  "defect_code" TEXT NOT NULL,
  "description" TEXT,
  "disposition" TEXT CHECK ("disposition" IN ('scrap', 'rework', 'use_as_is', 'return')),
  "status" TEXT NOT NULL CHECK ("status" IN ('open', 'investigating', 'closed')),
  "opened_at" INTEGER NOT NULL,
  "closed_at" INTEGER,
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "non_conformance_site_id_status_opened_at_idx" ON "non_conformance" ("site_id", "status", "opened_at");
CREATE INDEX IF NOT EXISTS "non_conformance_lot_id_idx" ON "non_conformance" ("lot_id");
CREATE TABLE IF NOT EXISTS "serial_unit" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT NOT NULL,
  "serial_no" TEXT NOT NULL,
  "material_id" TEXT NOT NULL CHECK (length("material_id") = 36),
  "status" TEXT NOT NULL CHECK ("status" IN ('in_process', 'completed', 'scrapped', 'consumed')),
  "lot_id" TEXT CHECK (length("lot_id") = 36),
  "produced_by_operation_id" TEXT CHECK (length("produced_by_operation_id") = 36),
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "serial_unit_serial_no_idx" ON "serial_unit" ("serial_no");
CREATE TABLE IF NOT EXISTS "genealogy_link" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT NOT NULL,
  "parent_kind" TEXT NOT NULL CHECK ("parent_kind" IN ('lot', 'serial')),
  "parent_id" TEXT NOT NULL CHECK (length("parent_id") = 36),
  "child_kind" TEXT NOT NULL CHECK ("child_kind" IN ('lot', 'serial')),
  "child_id" TEXT NOT NULL CHECK (length("child_id") = 36),
  "quantity" REAL NOT NULL,
  "operation_id" TEXT CHECK (length("operation_id") = 36),
  "at" INTEGER NOT NULL,
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "genealogy_link_parent_id_idx" ON "genealogy_link" ("parent_id");
CREATE INDEX IF NOT EXISTS "genealogy_link_child_id_idx" ON "genealogy_link" ("child_id");
CREATE TABLE IF NOT EXISTS "production_event" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT NOT NULL,
  "kind" TEXT NOT NULL CHECK ("kind" IN ('START', 'PAUSE', 'RESUME', 'COUNT', 'COMPLETE', 'ABORT')),
  "at" INTEGER NOT NULL,
  "work_order_id" TEXT NOT NULL CHECK (length("work_order_id") = 36),
  "operation_id" TEXT NOT NULL CHECK (length("operation_id") = 36),
  "work_unit_id" TEXT NOT NULL CHECK (length("work_unit_id") = 36),
  "operator_id" TEXT CHECK (length("operator_id") = 36),
  "shift_instance_id" TEXT CHECK (length("shift_instance_id") = 36),
  "good_quantity" REAL NOT NULL,
  "scrap_quantity" REAL NOT NULL,
  "rework_quantity" REAL NOT NULL,
  "scrap_reason_id" TEXT CHECK (length("scrap_reason_id") = 36),
  "output_lot_id" TEXT CHECK (length("output_lot_id") = 36),
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "production_event_site_id_at_idx" ON "production_event" ("site_id", "at");
CREATE INDEX IF NOT EXISTS "production_event_work_unit_id_at_idx" ON "production_event" ("work_unit_id", "at");
CREATE INDEX IF NOT EXISTS "production_event_operation_id_idx" ON "production_event" ("operation_id");
CREATE TABLE IF NOT EXISTS "downtime_event" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT NOT NULL,
  "work_unit_id" TEXT NOT NULL CHECK (length("work_unit_id") = 36),
  "started_at" INTEGER NOT NULL,
  "ended_at" INTEGER,
  "reason_id" TEXT CHECK (length("reason_id") = 36),
  "planned" INTEGER NOT NULL CHECK ("planned" IN (0, 1)),
  "operation_id" TEXT CHECK (length("operation_id") = 36),
  "operator_id" TEXT CHECK (length("operator_id") = 36),
  "comment" TEXT,
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "downtime_event_site_id_started_at_idx" ON "downtime_event" ("site_id", "started_at");
CREATE INDEX IF NOT EXISTS "downtime_event_work_unit_id_ended_at_idx" ON "downtime_event" ("work_unit_id", "ended_at");
CREATE INDEX IF NOT EXISTS "downtime_event_reason_id_idx" ON "downtime_event" ("reason_id");
CREATE TABLE IF NOT EXISTS "inspection" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT NOT NULL,
  "plan_id" TEXT NOT NULL CHECK (length("plan_id") = 36),
  "operation_id" TEXT CHECK (length("operation_id") = 36),
  "lot_id" TEXT CHECK (length("lot_id") = 36),
  "at" INTEGER NOT NULL,
  "operator_id" TEXT CHECK (length("operator_id") = 36),
  "result" TEXT CHECK ("result" IN ('pass', 'fail')),
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "inspection_site_id_at_idx" ON "inspection" ("site_id", "at");
CREATE TABLE IF NOT EXISTS "measurement" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT NOT NULL,
  "inspection_id" TEXT CHECK (length("inspection_id") = 36),
  "characteristic_id" TEXT NOT NULL CHECK (length("characteristic_id") = 36),
  "operation_id" TEXT CHECK (length("operation_id") = 36),
  "lot_id" TEXT CHECK (length("lot_id") = 36),
  "value" REAL,
  "passed" INTEGER CHECK ("passed" IN (0, 1)),
  "in_spec" INTEGER NOT NULL CHECK ("in_spec" IN (0, 1)),
  "at" INTEGER NOT NULL,
  "operator_id" TEXT CHECK (length("operator_id") = 36),
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "measurement_characteristic_id_at_idx" ON "measurement" ("characteristic_id", "at");
CREATE INDEX IF NOT EXISTS "measurement_site_id_at_idx" ON "measurement" ("site_id", "at");
CREATE TABLE IF NOT EXISTS "inventory_movement" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT NOT NULL,
  "kind" TEXT NOT NULL CHECK ("kind" IN ('receipt', 'issue', 'produce', 'scrap', 'transfer', 'adjust')),
  "material_id" TEXT NOT NULL CHECK (length("material_id") = 36),
  "lot_id" TEXT CHECK (length("lot_id") = 36),
  "serial_id" TEXT CHECK (length("serial_id") = 36),
  "quantity" REAL NOT NULL,
  "unit" TEXT NOT NULL,
  "from_location_id" TEXT CHECK (length("from_location_id") = 36),
  "to_location_id" TEXT CHECK (length("to_location_id") = 36),
  "operation_id" TEXT CHECK (length("operation_id") = 36),
  "at" INTEGER NOT NULL,
  "operator_id" TEXT CHECK (length("operator_id") = 36),
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "inventory_movement_lot_id_idx" ON "inventory_movement" ("lot_id");
CREATE INDEX IF NOT EXISTS "inventory_movement_site_id_at_idx" ON "inventory_movement" ("site_id", "at");
CREATE TABLE IF NOT EXISTS "shift_instance" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT NOT NULL,
  "shift_pattern_id" TEXT NOT NULL CHECK (length("shift_pattern_id") = 36),
  "business_date" TEXT NOT NULL,
  "starts_at" INTEGER NOT NULL,
  "ends_at" INTEGER NOT NULL,
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "shift_instance_site_id_starts_at_idx" ON "shift_instance" ("site_id", "starts_at");
CREATE TABLE IF NOT EXISTS "operator_session" (
  "id" TEXT NOT NULL PRIMARY KEY CHECK (length("id") = 36),
  "site_id" TEXT NOT NULL,
  "user_id" TEXT NOT NULL CHECK (length("user_id") = 36),
  "work_unit_id" TEXT NOT NULL CHECK (length("work_unit_id") = 36),
  "shift_instance_id" TEXT CHECK (length("shift_instance_id") = 36),
  "badge_in_at" INTEGER NOT NULL,
  "badge_out_at" INTEGER,
  "hlc" INTEGER NOT NULL,
  "origin" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "operator_session_work_unit_id_badge_out_at_idx" ON "operator_session" ("work_unit_id", "badge_out_at");
CREATE INDEX IF NOT EXISTS "operator_session_user_id_idx" ON "operator_session" ("user_id");
CREATE TABLE IF NOT EXISTS edge_meta (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL) STRICT;
