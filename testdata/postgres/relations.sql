-- A schema with a foreign key of every kind, for the Salesforce package:
-- single, two to one parent, composite, self-reference, to a table that
-- is not served (excluded), to a unique column that is not the key, and a
-- view over a child (views declare no foreign keys).
CREATE TABLE customers (
  id              serial PRIMARY KEY,
  name            varchar(100) NOT NULL UNIQUE,
  customer_number varchar(20),
  credit_limit    numeric(12,2),
  active          boolean NOT NULL DEFAULT true,
  notes           text
);
COMMENT ON TABLE customers IS 'People and companies who order';
COMMENT ON COLUMN customers.customer_number IS 'The number the ERP gives the customer';
CREATE TABLE warehouses (
  code varchar(10) PRIMARY KEY,
  city varchar(60) NOT NULL
);
CREATE TABLE products (
  id    integer PRIMARY KEY,
  sku   varchar(20) NOT NULL UNIQUE,
  title varchar(80) NOT NULL
);
CREATE TABLE orders (
  id                  integer PRIMARY KEY,
  customer_id         integer NOT NULL REFERENCES customers (id),
  billing_customer_id integer REFERENCES customers (id),
  warehouse_code      varchar(10) REFERENCES warehouses (code),
  customer_number     varchar(20),
  placed              date NOT NULL,
  total               numeric(12,2) NOT NULL
);
CREATE TABLE order_lines (
  order_id    integer NOT NULL REFERENCES orders (id),
  line_no     integer NOT NULL,
  product_sku varchar(20) NOT NULL REFERENCES products (sku),
  quantity    integer NOT NULL,
  PRIMARY KEY (order_id, line_no)
);
CREATE TABLE shipments (
  id       integer PRIMARY KEY,
  order_id integer NOT NULL,
  line_no  integer NOT NULL,
  shipped  timestamptz,
  FOREIGN KEY (order_id, line_no) REFERENCES order_lines (order_id, line_no)
);
CREATE TABLE employees (
  id         integer PRIMARY KEY,
  manager_id integer REFERENCES employees (id),
  full_name  varchar(80) NOT NULL,
  badge_code varchar(12) NOT NULL UNIQUE
);
CREATE VIEW big_orders AS SELECT id, customer_id, total FROM orders WHERE total > 1000;
