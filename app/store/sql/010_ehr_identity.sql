-- The EHR's identity of a mapped patient (issue 15): the EHR is the patient master, so every
-- message about a mapped patient carries the EHR's name, kana, date of birth and sex, never
-- the downtime registration's. Name, kana and date of birth were kept already; sex joins them.
ALTER TABLE mrn_links ADD COLUMN ehr_sex TEXT;
