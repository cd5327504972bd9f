-- The MySQL demo source: a small shop whose tables change over time (updated_at is the cursor).
-- Loaded once by the mysql-demo service into MYSQL_DATABASE (`shop`) on its first start.
-- Plain SQL that MySQL 8 and MariaDB both run, so tests can load it into the local MariaDB.

CREATE TABLE customers (
    id INT NOT NULL PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    email VARCHAR(200) NOT NULL,
    country CHAR(2) NOT NULL,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    KEY customers_updated_at (updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE orders (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    customer_id INT NOT NULL,
    amount DECIMAL(12, 2) NOT NULL,
    status VARCHAR(20) NOT NULL,
    note TEXT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    KEY orders_updated_at (updated_at),
    CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- 0..9, crossed with itself to make row numbers without recursive CTEs (whose limits differ by server).
CREATE TEMPORARY TABLE digits (d INT NOT NULL);
INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);

INSERT INTO customers (id, name, email, country, updated_at)
SELECT n, CONCAT('Customer ', n), CONCAT('customer', n, '@example.com'),
       ELT(1 + n % 5, 'DE', 'FR', 'US', 'JP', 'BR'),
       TIMESTAMP('2026-01-01') + INTERVAL n MINUTE
FROM (SELECT 1 + a.d + 10 * b.d + 100 * c.d AS n FROM digits a, digits b, digits c) AS numbers;

INSERT INTO orders (customer_id, amount, status, note, created_at, updated_at)
SELECT 1 + n % 1000, ROUND(5 + (n * 37 % 10000) / 100, 2),
       ELT(1 + n % 4, 'new', 'paid', 'shipped', 'returned'),
       IF(n % 10 = 0, NULL, CONCAT('order ', n, ' — ünïcødé note')),
       TIMESTAMP('2026-01-01') + INTERVAL n MINUTE,
       TIMESTAMP('2026-01-01') + INTERVAL n MINUTE + INTERVAL n % 3 DAY
FROM (SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS n
      FROM digits a, digits b, digits c, digits e) AS numbers;

DROP TEMPORARY TABLE digits;
