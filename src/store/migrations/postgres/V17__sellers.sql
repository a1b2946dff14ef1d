-- Sold at the till (issue 17): seller tokens (shops, distributors) mark
-- stamps sold. A seller token names its shop and the producers it sells
-- for (JSON array of ids; empty = all).
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check
    CHECK (role IN ('admin', 'producer', 'inspector', 'seller'));
ALTER TABLE api_tokens ADD COLUMN sells_for TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_tokens ADD COLUMN shop TEXT;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_seller_shop
    CHECK ((role = 'seller') = (shop IS NOT NULL));

-- A stamp sold at the till: by which seller (the token's actor name, who
-- alone may undo it within ten days) and shop, and when.
CREATE TABLE sales (
    serial   BIGINT PRIMARY KEY,
    batch_id BIGINT NOT NULL,
    seq      BIGINT NOT NULL,
    sold_at  TEXT NOT NULL,
    seller   TEXT NOT NULL,
    shop     TEXT NOT NULL
);
CREATE INDEX sales_batch ON sales (batch_id);
