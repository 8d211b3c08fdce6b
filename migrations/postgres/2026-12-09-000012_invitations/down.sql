-- Rolling back would show every order of a confidential campaign to its employer: refused while
-- there is one.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM orders WHERE NOT employer_sees) THEN
        RAISE EXCEPTION 'orders of confidential invitation campaigns exist: rolling back would show them to their employers; erase or share them first';
    END IF;
END
$$;
DELETE FROM consents WHERE kind IN ('contact', 'share_participation');
ALTER TABLE consents DROP CONSTRAINT consents_kind_check;
ALTER TABLE consents ADD CONSTRAINT consents_kind_check CHECK (kind IN ('assessment', 'share_summary'));
ALTER TABLE orders DROP COLUMN employer_sees;
ALTER TABLE orders DROP COLUMN invitation_id;
DROP TABLE invitation_refusals;
DROP TABLE invitation_sign_ups;
DROP TABLE invitations;
