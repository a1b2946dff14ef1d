-- GS1-form stamps (issue 20): an issuance may print its stamps' URLs as
-- GS1 Digital Link URIs with the product's GTIN (14 digits, kept as
-- issued: the printed GTIN does not change if the product's does).
ALTER TABLE issuances ADD COLUMN gs1_gtin TEXT;
