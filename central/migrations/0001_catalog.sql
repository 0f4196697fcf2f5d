-- Central schema 1: the MES catalog as released (frozen: never edit a released migration).
-- @SCHEMA@, @OWNER@ and @APP@ are the schema and role names of the deployment.
GRANT USAGE ON SCHEMA "@SCHEMA@" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."equipment" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text,
  "parent_id" uuid,
  "level" text NOT NULL CHECK ("level" IN ('enterprise', 'site', 'area', 'work_center', 'work_unit')),
  "code" text NOT NULL,
  "name" text NOT NULL,
  "equipment_class" text,
  "ideal_cycle_time_s" double precision,
  "active" boolean NOT NULL,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "equipment_site_id_parent_id_idx" ON "@SCHEMA@"."equipment" ("tenant_id", "site_id", "parent_id");
CREATE INDEX IF NOT EXISTS "equipment_code_idx" ON "@SCHEMA@"."equipment" ("tenant_id", "code");
ALTER TABLE "@SCHEMA@"."equipment" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."equipment" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."equipment";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."equipment" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."equipment" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."material_definition" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text,
  "code" text NOT NULL,
  "name" text NOT NULL,
  "revision" text NOT NULL,
  "unit" text NOT NULL,
  "tracking" text NOT NULL CHECK ("tracking" IN ('none', 'lot', 'serial')),
  "active" boolean NOT NULL,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "material_definition_code_revision_idx" ON "@SCHEMA@"."material_definition" ("tenant_id", "code", "revision");
ALTER TABLE "@SCHEMA@"."material_definition" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."material_definition" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."material_definition";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."material_definition" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."material_definition" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."bom" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text,
  "material_id" uuid NOT NULL,
  "revision" text NOT NULL,
  "base_quantity" double precision NOT NULL,
  "active" boolean NOT NULL,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "bom_material_id_idx" ON "@SCHEMA@"."bom" ("tenant_id", "material_id");
ALTER TABLE "@SCHEMA@"."bom" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."bom" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."bom";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."bom" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."bom" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."bom_line" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text,
  "bom_id" uuid NOT NULL,
  "line_no" bigint NOT NULL,
  "component_id" uuid NOT NULL,
  "quantity_per" double precision NOT NULL,
  "unit" text NOT NULL,
  "scrap_factor" double precision NOT NULL,
  "operation_seq" bigint,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "bom_line_bom_id_idx" ON "@SCHEMA@"."bom_line" ("tenant_id", "bom_id");
ALTER TABLE "@SCHEMA@"."bom_line" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."bom_line" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."bom_line";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."bom_line" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."bom_line" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."routing" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text,
  "material_id" uuid NOT NULL,
  "revision" text NOT NULL,
  "active" boolean NOT NULL,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "routing_material_id_idx" ON "@SCHEMA@"."routing" ("tenant_id", "material_id");
ALTER TABLE "@SCHEMA@"."routing" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."routing" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."routing";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."routing" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."routing" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."routing_operation" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text,
  "routing_id" uuid NOT NULL,
  "seq" bigint NOT NULL,
  "op_code" text NOT NULL,
  "name" text NOT NULL,
  "work_center_id" uuid,
  "setup_time_s" double precision NOT NULL,
  "ideal_cycle_time_s" double precision NOT NULL,
  "inspection_plan_id" uuid,
  "allow_overlap" boolean NOT NULL,
  "required_qualification" text,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "routing_operation_routing_id_seq_idx" ON "@SCHEMA@"."routing_operation" ("tenant_id", "routing_id", "seq");
ALTER TABLE "@SCHEMA@"."routing_operation" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."routing_operation" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."routing_operation";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."routing_operation" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."routing_operation" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."reason_code" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text,
  "parent_id" uuid,
  "code" text NOT NULL,
  "name" text NOT NULL,
  "category" text NOT NULL CHECK ("category" IN ('downtime', 'scrap', 'rework', 'defect')),
  "oee_bucket" text CHECK ("oee_bucket" IN ('availability', 'performance', 'quality')),
  "loss_class" text CHECK ("loss_class" IN ('breakdown', 'setup_adjustment', 'minor_stop', 'reduced_speed', 'process_defect', 'startup_reject', 'planned')),
  "planned" boolean NOT NULL,
  "is_failure" boolean NOT NULL,
  "active" boolean NOT NULL,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "reason_code_category_code_idx" ON "@SCHEMA@"."reason_code" ("tenant_id", "category", "code");
ALTER TABLE "@SCHEMA@"."reason_code" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."reason_code" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."reason_code";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."reason_code" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."reason_code" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."inspection_plan" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text,
  "code" text NOT NULL,
  "name" text NOT NULL,
  "material_id" uuid,
  "revision" text NOT NULL,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "inspection_plan_code_idx" ON "@SCHEMA@"."inspection_plan" ("tenant_id", "code");
ALTER TABLE "@SCHEMA@"."inspection_plan" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."inspection_plan" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."inspection_plan";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."inspection_plan" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."inspection_plan" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."inspection_characteristic" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text,
  "plan_id" uuid NOT NULL,
  "seq" bigint NOT NULL,
  "name" text NOT NULL,
  "kind" text NOT NULL CHECK ("kind" IN ('measured', 'pass_fail')),
  "unit" text,
  "nominal" double precision,
  "lsl" double precision,
  "usl" double precision,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "inspection_characteristic_plan_id_seq_idx" ON "@SCHEMA@"."inspection_characteristic" ("tenant_id", "plan_id", "seq");
ALTER TABLE "@SCHEMA@"."inspection_characteristic" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."inspection_characteristic" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."inspection_characteristic";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."inspection_characteristic" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."inspection_characteristic" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."location" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text,
  "code" text NOT NULL,
  "name" text NOT NULL,
  "kind" text NOT NULL CHECK ("kind" IN ('warehouse', 'staging', 'line_side', 'quarantine', 'shipping')),
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "location_site_id_code_idx" ON "@SCHEMA@"."location" ("tenant_id", "site_id", "code");
ALTER TABLE "@SCHEMA@"."location" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."location" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."location";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."location" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."location" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."shift_pattern" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text,
  "code" text NOT NULL,
  "name" text NOT NULL,
  "start_minute" bigint NOT NULL,
  "end_minute" bigint NOT NULL,
  "weekdays" bigint NOT NULL,
  "planned_breaks" json NOT NULL,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "shift_pattern_site_id_code_idx" ON "@SCHEMA@"."shift_pattern" ("tenant_id", "site_id", "code");
ALTER TABLE "@SCHEMA@"."shift_pattern" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."shift_pattern" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."shift_pattern";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."shift_pattern" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."shift_pattern" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."users" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text,
  "badge_id" text NOT NULL,
  "name" text NOT NULL,
  "pin_hash" text NOT NULL,
  "role" text NOT NULL CHECK ("role" IN ('operator', 'supervisor', 'quality')),
  "sites" json NOT NULL,
  "qualifications" json NOT NULL,
  "active" boolean NOT NULL,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "users_badge_id_idx" ON "@SCHEMA@"."users" ("tenant_id", "badge_id");
ALTER TABLE "@SCHEMA@"."users" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."users" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."users";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."users" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."users" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."work_order" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text NOT NULL,
  "number" text NOT NULL,
  "material_id" uuid NOT NULL,
  "bom_id" uuid,
  "routing_id" uuid,
  "routing_snapshot" json,
  "planned_quantity" double precision NOT NULL,
  "planned_start" timestamptz,
  "planned_end" timestamptz,
  "due_at" timestamptz,
  "priority" bigint NOT NULL,
  "line_id" uuid,
  "status" text NOT NULL CHECK ("status" IN ('Draft', 'Released', 'InProgress', 'OnHold', 'Completed', 'Closed', 'Cancelled')),
  "actual_start" timestamptz,
  "actual_end" timestamptz,
  "good_quantity" double precision NOT NULL,
  "scrap_quantity" double precision NOT NULL,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "work_order_site_id_status_idx" ON "@SCHEMA@"."work_order" ("tenant_id", "site_id", "status");
CREATE INDEX IF NOT EXISTS "work_order_site_id_due_at_idx" ON "@SCHEMA@"."work_order" ("tenant_id", "site_id", "due_at");
CREATE INDEX IF NOT EXISTS "work_order_number_idx" ON "@SCHEMA@"."work_order" ("tenant_id", "number");
ALTER TABLE "@SCHEMA@"."work_order" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."work_order" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."work_order";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."work_order" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."work_order" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."work_order_operation" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text NOT NULL,
  "work_order_id" uuid NOT NULL,
  "seq" bigint NOT NULL,
  "routing_operation_id" uuid,
  "op_code" text NOT NULL,
  "work_unit_id" uuid,
  "status" text NOT NULL CHECK ("status" IN ('Pending', 'Ready', 'Running', 'Paused', 'Completed', 'Cancelled')),
  "planned_quantity" double precision NOT NULL,
  "good_quantity" double precision NOT NULL,
  "scrap_quantity" double precision NOT NULL,
  "rework_quantity" double precision NOT NULL,
  "ideal_cycle_time_s" double precision NOT NULL,
  "actual_start" timestamptz,
  "actual_end" timestamptz,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "work_order_operation_work_order_id_seq_idx" ON "@SCHEMA@"."work_order_operation" ("tenant_id", "work_order_id", "seq");
CREATE INDEX IF NOT EXISTS "work_order_operation_site_id_work_unit_id_status_idx" ON "@SCHEMA@"."work_order_operation" ("tenant_id", "site_id", "work_unit_id", "status");
ALTER TABLE "@SCHEMA@"."work_order_operation" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."work_order_operation" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."work_order_operation";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."work_order_operation" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."work_order_operation" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."material_lot" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text NOT NULL,
  "lot_no" text NOT NULL,
  "material_id" uuid NOT NULL,
  "quantity" double precision NOT NULL,
  "unit" text NOT NULL,
  "status" text NOT NULL CHECK ("status" IN ('available', 'quarantine', 'hold', 'consumed', 'scrapped')),
  "location_id" uuid,
  "expires_at" timestamptz,
  "produced_by_operation_id" uuid,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "material_lot_lot_no_idx" ON "@SCHEMA@"."material_lot" ("tenant_id", "lot_no");
CREATE INDEX IF NOT EXISTS "material_lot_site_id_material_id_status_idx" ON "@SCHEMA@"."material_lot" ("tenant_id", "site_id", "material_id", "status");
ALTER TABLE "@SCHEMA@"."material_lot" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."material_lot" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."material_lot";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."material_lot" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."material_lot" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."non_conformance" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text NOT NULL,
  "source" text NOT NULL CHECK ("source" IN ('measurement', 'operator', 'inspection', 'supplier', 'customer')),
  "lot_id" uuid,
  "work_order_id" uuid,
  "operation_id" uuid,
  "quantity" double precision NOT NULL,
  "defect_code" text NOT NULL,
  "description" text,
  "disposition" text CHECK ("disposition" IN ('scrap', 'rework', 'use_as_is', 'return')),
  "status" text NOT NULL CHECK ("status" IN ('open', 'investigating', 'closed')),
  "opened_at" timestamptz NOT NULL,
  "closed_at" timestamptz,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "non_conformance_site_id_status_opened_at_idx" ON "@SCHEMA@"."non_conformance" ("tenant_id", "site_id", "status", "opened_at");
CREATE INDEX IF NOT EXISTS "non_conformance_lot_id_idx" ON "@SCHEMA@"."non_conformance" ("tenant_id", "lot_id");
ALTER TABLE "@SCHEMA@"."non_conformance" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."non_conformance" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."non_conformance";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."non_conformance" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."non_conformance" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."serial_unit" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text NOT NULL,
  "serial_no" text NOT NULL,
  "material_id" uuid NOT NULL,
  "status" text NOT NULL CHECK ("status" IN ('in_process', 'completed', 'scrapped', 'consumed')),
  "lot_id" uuid,
  "produced_by_operation_id" uuid,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "serial_unit_serial_no_idx" ON "@SCHEMA@"."serial_unit" ("tenant_id", "serial_no");
ALTER TABLE "@SCHEMA@"."serial_unit" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."serial_unit" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."serial_unit";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."serial_unit" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."serial_unit" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."genealogy_link" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text NOT NULL,
  "parent_kind" text NOT NULL CHECK ("parent_kind" IN ('lot', 'serial')),
  "parent_id" uuid NOT NULL,
  "child_kind" text NOT NULL CHECK ("child_kind" IN ('lot', 'serial')),
  "child_id" uuid NOT NULL,
  "quantity" double precision NOT NULL,
  "operation_id" uuid,
  "at" timestamptz NOT NULL,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "genealogy_link_parent_id_idx" ON "@SCHEMA@"."genealogy_link" ("tenant_id", "parent_id");
CREATE INDEX IF NOT EXISTS "genealogy_link_child_id_idx" ON "@SCHEMA@"."genealogy_link" ("tenant_id", "child_id");
ALTER TABLE "@SCHEMA@"."genealogy_link" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."genealogy_link" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."genealogy_link";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."genealogy_link" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."genealogy_link" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."production_event" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text NOT NULL,
  "kind" text NOT NULL CHECK ("kind" IN ('START', 'PAUSE', 'RESUME', 'COUNT', 'COMPLETE', 'ABORT')),
  "at" timestamptz NOT NULL,
  "work_order_id" uuid NOT NULL,
  "operation_id" uuid NOT NULL,
  "work_unit_id" uuid NOT NULL,
  "operator_id" uuid,
  "shift_instance_id" uuid,
  "good_quantity" double precision NOT NULL,
  "scrap_quantity" double precision NOT NULL,
  "rework_quantity" double precision NOT NULL,
  "scrap_reason_id" uuid,
  "output_lot_id" uuid,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "production_event_site_id_at_idx" ON "@SCHEMA@"."production_event" ("tenant_id", "site_id", "at");
CREATE INDEX IF NOT EXISTS "production_event_work_unit_id_at_idx" ON "@SCHEMA@"."production_event" ("tenant_id", "work_unit_id", "at");
CREATE INDEX IF NOT EXISTS "production_event_operation_id_idx" ON "@SCHEMA@"."production_event" ("tenant_id", "operation_id");
ALTER TABLE "@SCHEMA@"."production_event" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."production_event" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."production_event";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."production_event" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."production_event" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."downtime_event" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text NOT NULL,
  "work_unit_id" uuid NOT NULL,
  "started_at" timestamptz NOT NULL,
  "ended_at" timestamptz,
  "reason_id" uuid,
  "planned" boolean NOT NULL,
  "operation_id" uuid,
  "operator_id" uuid,
  "comment" text,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "downtime_event_site_id_started_at_idx" ON "@SCHEMA@"."downtime_event" ("tenant_id", "site_id", "started_at");
CREATE INDEX IF NOT EXISTS "downtime_event_work_unit_id_ended_at_idx" ON "@SCHEMA@"."downtime_event" ("tenant_id", "work_unit_id", "ended_at");
CREATE INDEX IF NOT EXISTS "downtime_event_reason_id_idx" ON "@SCHEMA@"."downtime_event" ("tenant_id", "reason_id");
ALTER TABLE "@SCHEMA@"."downtime_event" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."downtime_event" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."downtime_event";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."downtime_event" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."downtime_event" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."inspection" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text NOT NULL,
  "plan_id" uuid NOT NULL,
  "operation_id" uuid,
  "lot_id" uuid,
  "at" timestamptz NOT NULL,
  "operator_id" uuid,
  "result" text CHECK ("result" IN ('pass', 'fail')),
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "inspection_site_id_at_idx" ON "@SCHEMA@"."inspection" ("tenant_id", "site_id", "at");
ALTER TABLE "@SCHEMA@"."inspection" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."inspection" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."inspection";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."inspection" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."inspection" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."measurement" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text NOT NULL,
  "inspection_id" uuid,
  "characteristic_id" uuid NOT NULL,
  "operation_id" uuid,
  "lot_id" uuid,
  "value" double precision,
  "passed" boolean,
  "in_spec" boolean NOT NULL,
  "at" timestamptz NOT NULL,
  "operator_id" uuid,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "measurement_characteristic_id_at_idx" ON "@SCHEMA@"."measurement" ("tenant_id", "characteristic_id", "at");
CREATE INDEX IF NOT EXISTS "measurement_site_id_at_idx" ON "@SCHEMA@"."measurement" ("tenant_id", "site_id", "at");
ALTER TABLE "@SCHEMA@"."measurement" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."measurement" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."measurement";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."measurement" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."measurement" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."inventory_movement" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text NOT NULL,
  "kind" text NOT NULL CHECK ("kind" IN ('receipt', 'issue', 'produce', 'scrap', 'transfer', 'adjust')),
  "material_id" uuid NOT NULL,
  "lot_id" uuid,
  "serial_id" uuid,
  "quantity" double precision NOT NULL,
  "unit" text NOT NULL,
  "from_location_id" uuid,
  "to_location_id" uuid,
  "operation_id" uuid,
  "at" timestamptz NOT NULL,
  "operator_id" uuid,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "inventory_movement_lot_id_idx" ON "@SCHEMA@"."inventory_movement" ("tenant_id", "lot_id");
CREATE INDEX IF NOT EXISTS "inventory_movement_site_id_at_idx" ON "@SCHEMA@"."inventory_movement" ("tenant_id", "site_id", "at");
ALTER TABLE "@SCHEMA@"."inventory_movement" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."inventory_movement" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."inventory_movement";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."inventory_movement" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."inventory_movement" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."shift_instance" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text NOT NULL,
  "shift_pattern_id" uuid NOT NULL,
  "business_date" text NOT NULL,
  "starts_at" timestamptz NOT NULL,
  "ends_at" timestamptz NOT NULL,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "shift_instance_site_id_starts_at_idx" ON "@SCHEMA@"."shift_instance" ("tenant_id", "site_id", "starts_at");
ALTER TABLE "@SCHEMA@"."shift_instance" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."shift_instance" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."shift_instance";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."shift_instance" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."shift_instance" TO "@APP@";
CREATE TABLE IF NOT EXISTS "@SCHEMA@"."operator_session" (
  tenant_id text NOT NULL,
  "id" uuid NOT NULL,
  "site_id" text NOT NULL,
  "user_id" uuid NOT NULL,
  "work_unit_id" uuid NOT NULL,
  "shift_instance_id" uuid,
  "badge_in_at" timestamptz NOT NULL,
  "badge_out_at" timestamptz,
  "hlc" bigint NOT NULL,
  "origin" text NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS "operator_session_work_unit_id_badge_out_at_idx" ON "@SCHEMA@"."operator_session" ("tenant_id", "work_unit_id", "badge_out_at");
CREATE INDEX IF NOT EXISTS "operator_session_user_id_idx" ON "@SCHEMA@"."operator_session" ("tenant_id", "user_id");
ALTER TABLE "@SCHEMA@"."operator_session" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "@SCHEMA@"."operator_session" FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON "@SCHEMA@"."operator_session";
CREATE POLICY tenant_isolation ON "@SCHEMA@"."operator_session" USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON "@SCHEMA@"."operator_session" TO "@APP@";
