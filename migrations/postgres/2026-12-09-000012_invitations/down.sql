ALTER TABLE orders DROP COLUMN employer_sees;
ALTER TABLE orders DROP COLUMN invitation_id;
DROP TABLE invitation_refusals;
DROP TABLE invitation_sign_ups;
DROP TABLE invitations;
