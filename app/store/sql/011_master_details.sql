-- The extra columns of a master (issue 15): a lab test's specimen and JLAC10 code, a drug's
-- dosage form and YJ/HOT codes, a usage's JAMI code, a doctor's department and login. Kept as
-- one JSON object per item, its keys and values checked by the program
-- (domain::master_details), so a new column needs no table rebuild.
ALTER TABLE master_items ADD COLUMN details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details));
