-- The application's database role, fuli_app (docs/database-roles.md): it reads and writes rows and owns nothing, so
-- it can neither change the schema nor drop or disable the triggers that keep the ledger, card movements and the
-- audit chain append-only. Run by the schema owner (the role that runs the migrations), once per database, before
-- or after the first migration; the password is set apart (ALTER ROLE fuli_app PASSWORD …): no secret here.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fuli_app') THEN
    CREATE ROLE fuli_app LOGIN;
  END IF;
END $$;
DO $$ BEGIN
  EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO fuli_app', current_database());
END $$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO fuli_app;

-- What the owner creates from now on (the migrations' tables, BullMQ's tables): rows only.
ALTER DEFAULT PRIVILEGES GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO fuli_app;
ALTER DEFAULT PRIVILEGES GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO fuli_app;

-- BullMQ's schema, whose tables the owner's migration creates: its operations also create a sequence per queue at
-- run time, so the app may create objects here, and only here.
CREATE SCHEMA IF NOT EXISTS bullmq;
GRANT USAGE, CREATE ON SCHEMA bullmq TO fuli_app;

-- What is already there (a database migrated before this role existed).
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public, bullmq TO fuli_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public, bullmq TO fuli_app;
