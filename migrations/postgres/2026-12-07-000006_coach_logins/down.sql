DROP TABLE login_setups;
DROP INDEX coaches_organisation_email_idx;
