-- Fixture for the MySQL/MariaDB integration tests: the PostgreSQL
-- fixture's tables and rows in MySQL's types, plus a table of MySQL's own
-- types. Runs on MariaDB 10.5+ and MySQL 8.

CREATE TABLE seq (i INT PRIMARY KEY);
INSERT INTO seq (i)
SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d
FROM (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a,
     (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b,
     (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c,
     (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) e;

CREATE TABLE Customers (
  CustomerId  INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  Name        VARCHAR(100) NOT NULL,
  Email       VARCHAR(255) COMMENT 'Primary contact address' CHECK (Email LIKE '%@%'),
  Phone       VARCHAR(30),
  City        VARCHAR(60),
  Country     VARCHAR(40) NOT NULL,
  CreatedAt   DATETIME(6) NOT NULL,
  BirthDate   DATE,
  IsActive    BOOLEAN NOT NULL DEFAULT TRUE,
  CreditLimit DECIMAL(12,2),
  Rating      DOUBLE
) COMMENT 'People and companies who buy from us';

CREATE TABLE Suppliers (
  SupplierID  INT PRIMARY KEY,
  CompanyName TEXT NOT NULL
);

CREATE TABLE Orders (
  OrderId      INT PRIMARY KEY,
  CustomerId   INT NOT NULL,
  OrderDate    DATE NOT NULL,
  RequiredDate DATE,
  ShippedDate  DATETIME(6),
  Total        DECIMAL(12,2) NOT NULL,
  CONSTRAINT orders_customer FOREIGN KEY (CustomerId) REFERENCES Customers (CustomerId)
);

CREATE TABLE OrderLines (
  OrderId   INT NOT NULL,
  ProductId INT NOT NULL,
  Quantity  INT NOT NULL,
  UnitPrice DECIMAL(10,2) NOT NULL,
  PRIMARY KEY (OrderId, ProductId),
  CONSTRAINT lines_order FOREIGN KEY (OrderId) REFERENCES Orders (OrderId)
);

CREATE TABLE all_types (
  id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  c_tinyint     TINYINT,
  c_utinyint    TINYINT UNSIGNED,
  c_bool        BOOLEAN,
  c_bit1        BIT(1),
  c_bit8        BIT(8),
  c_smallint    SMALLINT,
  c_usmallint   SMALLINT UNSIGNED,
  c_mediumint   MEDIUMINT,
  c_int         INT,
  c_uint        INT UNSIGNED,
  c_bigint      BIGINT,
  c_ubigint     BIGINT UNSIGNED,
  c_decimal     DECIMAL(10,3),
  c_float       FLOAT,
  c_double      DOUBLE,
  c_char        CHAR(5),
  c_varchar     VARCHAR(20),
  c_text        TEXT,
  c_enum        ENUM('happy', 'sad', 'neutral'),
  c_set         SET('a', 'b', 'c'),
  c_json        JSON,
  c_date        DATE,
  c_datetime    DATETIME(3),
  c_timestamp   TIMESTAMP(6) NULL,
  c_time        TIME(6),
  c_year        YEAR,
  c_binary      BINARY(4),
  c_varbinary   VARBINARY(16),
  c_blob        BLOB,
  c_generated   BIGINT GENERATED ALWAYS AS (c_int * 2) VIRTUAL
);

CREATE TABLE `order lines 2024` (
  `Line ID`      INT PRIMARY KEY,
  `Unit Price`   DECIMAL(8,2),
  `ünïcode_col`  TEXT,
  `2nd_value`    INT,
  `a__b_`        TEXT,
  `Straße`       TEXT
);
CREATE TABLE order_lines_2024 (id INT PRIMARY KEY, note TEXT);

CREATE TABLE legacy_codes (
  code   VARCHAR(10) NOT NULL,
  region VARCHAR(10) NOT NULL,
  label  TEXT,
  CONSTRAINT legacy_codes_uq UNIQUE (code, region)
);
CREATE TABLE no_key_log (at DATETIME(6), message TEXT);

CREATE VIEW customer_summary AS
  SELECT c.CustomerId AS customer_id, c.Name AS name, COUNT(o.OrderId) AS orders, COALESCE(SUM(o.Total), 0) AS total
  FROM Customers c LEFT JOIN Orders o ON o.CustomerId = c.CustomerId
  GROUP BY c.CustomerId, c.Name;
CREATE VIEW unkeyed_view AS SELECT Name FROM Customers;

-- data -----------------------------------------------------------------------

INSERT INTO Customers (CustomerId, Name, Email, Phone, City, Country, CreatedAt, BirthDate, IsActive, CreditLimit, Rating)
SELECT i,
       CONCAT(ELT(1 + i % 10, 'Acme Corp', 'O''Brien & Sons', 'Zoë Müller', '北京贸易', 'Globex', 'Initech', 'acme west', 'Umbrella "Red"', 'Back\\slash Ltd', 'Stark'), ' ', i),
       CASE WHEN i % 7 = 0 THEN NULL ELSE CONCAT('customer', i, '@example.com') END,
       CASE WHEN i % 5 = 0 THEN NULL ELSE CONCAT('+1-555-', LPAD(i * 37 % 10000, 4, '0')) END,
       CASE WHEN i % 11 = 0 THEN NULL ELSE ELT(1 + i % 6, 'Austin', 'Boston', 'Chicago', 'Toronto', 'München', 'São Paulo') END,
       ELT(1 + i % 7, 'USA', 'USA', 'US', 'CA', 'Canada', 'Germany', 'Brazil'),
       TIMESTAMP '2023-01-01 00:00:00' + INTERVAL i * 7 HOUR + INTERVAL (i % 60) * 1000000 + 250000 MICROSECOND,
       CASE WHEN i % 4 = 0 THEN NULL ELSE DATE '1950-01-01' + INTERVAL i * 3 DAY END,
       i % 9 <> 0,
       CASE WHEN i % 3 = 0 THEN NULL ELSE CAST(i * 13.37 AS DECIMAL(12,2)) END,
       CASE WHEN i % 6 = 0 THEN NULL ELSE (i % 50) / 10.0 END
FROM seq WHERE i <= 500;

INSERT INTO Suppliers SELECT i, CONCAT('Supplier ', i) FROM seq WHERE i <= 60;

INSERT INTO Orders
SELECT 10248 + j, 1 + (j * 31) % 500, DATE '2023-01-01' + INTERVAL j % 700 DAY,
       CASE WHEN j % 5 = 0 THEN NULL ELSE DATE '2023-01-15' + INTERVAL j % 700 DAY END,
       CASE WHEN j % 3 = 0 THEN NULL ELSE TIMESTAMP '2023-01-03 12:00:00' + INTERVAL j % 700 DAY + INTERVAL j % 1440 MINUTE END,
       ((j * 17) % 100000) / 100.0
FROM (SELECT i - 1 AS j FROM seq WHERE i <= 2000) s;

INSERT IGNORE INTO OrderLines
SELECT o.OrderId, 1 + (o.OrderId * k.i) % 77, 1 + (o.OrderId + 1 + (o.OrderId * k.i) % 77) % 9, CAST((1 + (o.OrderId * k.i) % 77) * 1.25 AS DECIMAL(10,2))
FROM Orders o CROSS JOIN (SELECT i FROM seq WHERE i <= 3) k;
INSERT IGNORE INTO OrderLines VALUES (10248, 11, 12, 14.00);

INSERT INTO all_types (c_tinyint, c_utinyint, c_bool, c_bit1, c_bit8, c_smallint, c_usmallint, c_mediumint, c_int, c_uint, c_bigint, c_ubigint,
  c_decimal, c_float, c_double, c_char, c_varchar, c_text, c_enum, c_set, c_json, c_date, c_datetime, c_timestamp, c_time, c_year,
  c_binary, c_varbinary, c_blob)
VALUES
  (-128, 255, TRUE, b'1', b'10100101', -32768, 65535, -8388608, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
   1234567.891, 1.5, 2.25, 'ab', 'varchar', 'text with ''quotes''', 'happy', 'a,c', '{"a": 1}', '2024-02-29', '2024-02-29 13:45:56.789',
   '2024-02-29 13:45:56.123456', '08:30:00', 2024, x'deadbeef', x'0102', x'cafe'),
  (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (0, 0, FALSE, b'0', b'0', 1, 0, 0, -1, 0, -9007199254740993, 0, -0.001, -0.5, 1e300, 'x', '', 'üñíçødé 中文 "dq" \\ bs 😀', 'sad', '', '[]',
   '1000-01-01', '1970-01-01 00:00:00', '1970-01-01 00:00:01', '23:59:59.999999', 1901, x'00000000', x'', x'');

INSERT INTO `order lines 2024` VALUES (1, 9.99, 'ü', 2, 'ab', 'Weiß'), (2, NULL, NULL, NULL, NULL, NULL);
INSERT INTO order_lines_2024 VALUES (1, 'the other one');
INSERT INTO legacy_codes VALUES ('A1', 'EU', 'first'), ('A1', 'US', 'second'), ('B2', 'EU', NULL);
INSERT INTO no_key_log VALUES (NOW(6), 'left out');

DROP TABLE seq;
ANALYZE TABLE Customers, Orders, OrderLines;
