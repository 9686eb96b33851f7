-- A view whose rows take a second each to compute, all before the first
-- is returned (grouped through a temporary table), for timeout tests.
CREATE VIEW slow_rows AS SELECT i AS id, SUM(SLEEP(1)) AS nap
  FROM (SELECT 1 AS i UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5) AS s GROUP BY i;

-- A table whose inserts take a second, for cutting the connection mid-write.
CREATE TABLE slow_writes (id INT PRIMARY KEY, note TEXT);
DELIMITER $$
CREATE TRIGGER slow_insert BEFORE INSERT ON slow_writes FOR EACH ROW BEGIN
  DO SLEEP(1);
END$$
DELIMITER ;
