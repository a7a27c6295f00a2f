-- PCI DSS 3.4.1: BIN 6 + last 4 is the most Coffer shows of a card. Tokens
-- and payments stored before this kept 8-digit BINs for 16-digit cards,
-- which leave only ~1,000 candidates for the hidden digits: cut them to 6.
UPDATE tokens SET bin = substr(bin, 1, 6) WHERE length(bin) > 6;
UPDATE payments SET card = json_set(card, '$.bin', substr(json_extract(card, '$.bin'), 1, 6))
 WHERE length(json_extract(card, '$.bin')) > 6;
