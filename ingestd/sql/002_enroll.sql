-- ingestd/sql/002_enroll.sql: enrolment and per-client credentials
-- (ingestd/enroll.c).  A client's secret is never stored: secret_hash
-- is "sha256:" and the hex SHA-256 of it.  A revoked client keeps its
-- row and its data; revoked_at makes the receiver refuse it (403).
-- Enrolment tokens are one-time: used_at is set, in the transaction
-- that makes the client, by whichever ingestd redeems it first.

ALTER TABLE clients
	ADD COLUMN IF NOT EXISTS secret_hash VARCHAR(80) CHARACTER SET ascii NULL,
	ADD COLUMN IF NOT EXISTS enrolled_at TIMESTAMP NULL,
	ADD COLUMN IF NOT EXISTS revoked_at TIMESTAMP NULL;

CREATE TABLE IF NOT EXISTS enroll_tokens (
	token_hash	CHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
	created_at	TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
	expires_at	TIMESTAMP NULL,
	used_at		TIMESTAMP NULL,
	client_id	INT UNSIGNED NULL,
	note		VARCHAR(128) NULL
) ENGINE=InnoDB;
