-- A schema with a foreign key of every kind, for the Salesforce package:
-- single, two to one parent, composite, self-reference, to a table that
-- is not served (excluded), to a unique column that is not the key, and a
-- view over a child (views declare no foreign keys).
CREATE TABLE customers (
  id              int AUTO_INCREMENT PRIMARY KEY,
  name            varchar(100) NOT NULL UNIQUE,
  customer_number varchar(20) COMMENT 'The number the ERP gives the customer',
  credit_limit    decimal(12,2),
  active          boolean NOT NULL DEFAULT true,
  notes           text
) COMMENT 'People and companies who order';
CREATE TABLE warehouses (
  code varchar(10) PRIMARY KEY,
  city varchar(60) NOT NULL
);
CREATE TABLE products (
  id    int PRIMARY KEY,
  sku   varchar(20) NOT NULL UNIQUE,
  title varchar(80) NOT NULL
);
CREATE TABLE orders (
  id                  int PRIMARY KEY,
  customer_id         int NOT NULL,
  billing_customer_id int,
  warehouse_code      varchar(10),
  customer_number     varchar(20),
  placed              date NOT NULL,
  total               decimal(12,2) NOT NULL,
  CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id),
  CONSTRAINT orders_billing FOREIGN KEY (billing_customer_id) REFERENCES customers (id),
  CONSTRAINT orders_warehouse FOREIGN KEY (warehouse_code) REFERENCES warehouses (code)
);
CREATE TABLE order_lines (
  order_id    int NOT NULL,
  line_no     int NOT NULL,
  product_sku varchar(20) NOT NULL,
  quantity    int NOT NULL,
  PRIMARY KEY (order_id, line_no),
  CONSTRAINT lines_order FOREIGN KEY (order_id) REFERENCES orders (id),
  CONSTRAINT lines_product FOREIGN KEY (product_sku) REFERENCES products (sku)
);
CREATE TABLE shipments (
  id       int PRIMARY KEY,
  order_id int NOT NULL,
  line_no  int NOT NULL,
  shipped  datetime,
  CONSTRAINT shipments_line FOREIGN KEY (order_id, line_no) REFERENCES order_lines (order_id, line_no)
);
CREATE TABLE employees (
  id         int PRIMARY KEY,
  manager_id int,
  full_name  varchar(80) NOT NULL,
  badge_code varchar(12) NOT NULL UNIQUE,
  CONSTRAINT employees_manager FOREIGN KEY (manager_id) REFERENCES employees (id)
);
CREATE VIEW big_orders AS SELECT id, customer_id, total FROM orders WHERE total > 1000;
