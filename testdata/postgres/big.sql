-- A table shaped like the big ones Salesforce Connect is pointed at, with
-- the indexes a DBA would make for Salesforce's traffic: trigram indexes
-- for searched and contains columns, an index per foreign key, one for
-- the sort order, an expression index for case-insensitive equality.
-- 20,000 rows: enough that the planner has a choice.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE big_accounts (
  id          integer PRIMARY KEY,
  name        text NOT NULL,
  note        text,
  city        varchar(60),
  customer_id integer NOT NULL,
  created     timestamptz NOT NULL
);
INSERT INTO big_accounts
SELECT i, 'Account ' || md5(i::text), CASE WHEN i % 7 = 0 THEN NULL ELSE 'note ' || md5((i * 31)::text) END,
       (ARRAY['Paris','Lyon','Austin','Berlin','Tokyo'])[1 + i % 5], i % 500, timestamptz '2024-01-01' + i * interval '1 minute'
FROM generate_series(1, 20000) i;
CREATE INDEX big_accounts_name_trgm ON big_accounts USING gin (name gin_trgm_ops);
CREATE INDEX big_accounts_note_trgm ON big_accounts USING gin (note gin_trgm_ops);
CREATE INDEX big_accounts_city_trgm ON big_accounts USING gin (city gin_trgm_ops);
-- startswith on name: a prefix is a range of this B-tree in any collation
CREATE INDEX big_accounts_name_prefix ON big_accounts (name text_pattern_ops);
CREATE INDEX big_accounts_city_lower ON big_accounts (lower(city));
CREATE INDEX big_accounts_customer ON big_accounts (customer_id);
CREATE INDEX big_accounts_created ON big_accounts (created);
ANALYZE big_accounts;
