-- KYC levels (0-2) and the beneficial owner of each user (surveillance groups accounts by
-- it). Existing users are level 0 with no owner, as in the core.
ALTER TABLE users ADD COLUMN kyc_level BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN beneficial_owner TEXT;
