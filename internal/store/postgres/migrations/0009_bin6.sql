-- The PostgreSQL twin of internal/store/sqlite/migrations/0009_bin6.sql:
-- BIN 6 + last 4 is the most Coffer shows of a card (PCI DSS 3.4.1).
UPDATE tokens SET bin = substr(bin, 1, 6) WHERE length(bin) > 6;
UPDATE payments SET card = jsonb_set(card::jsonb, '{bin}', to_jsonb(substr(card::jsonb->>'bin', 1, 6)))::text
 WHERE length(card::jsonb->>'bin') > 6;
