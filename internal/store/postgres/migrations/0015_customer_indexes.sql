-- The PostgreSQL twin of internal/store/sqlite/migrations/0015_customer_indexes.sql.
--
-- The customer indexes, remade:
-- - Partial: tokens and payments without a customer (most API tokenizations
--   and payments) no longer enter them. Every lookup through them names a
--   customer (customer_id = ?), which implies customer_id IS NOT NULL, so the
--   partial index still serves it. Each index a write touches costs the
--   single writer its statement work and the group commit a page or more
--   per batch; for such writes these held only NULL keys.
-- - With id last, they also give a customer's listing its order (created
--   DESC, id DESC): without it the planner preferred the merchant's
--   (merchant_id, created, id) index and read every record of the merchant
--   to find one customer's.
DROP INDEX tokens_customer;
CREATE INDEX tokens_customer ON tokens (merchant_id, customer_id, created, id) WHERE customer_id IS NOT NULL;
DROP INDEX payments_customer;
CREATE INDEX payments_customer ON payments (merchant_id, customer_id, created, id) WHERE customer_id IS NOT NULL;
