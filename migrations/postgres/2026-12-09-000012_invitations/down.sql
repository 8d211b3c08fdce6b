DELETE FROM consents WHERE kind IN ('contact', 'share_participation');
ALTER TABLE consents DROP CONSTRAINT consents_kind_check;
ALTER TABLE consents ADD CONSTRAINT consents_kind_check CHECK (kind IN ('assessment', 'share_summary'));
ALTER TABLE orders DROP COLUMN employer_sees;
ALTER TABLE orders DROP COLUMN invitation_id;
DROP TABLE invitation_refusals;
DROP TABLE invitation_sign_ups;
DROP TABLE invitations;
