-- The 医事 system's insurance combination a charge slip names (ORCA's 保険組合せ番号, 4 digits),
-- copied from the slip as a reference only: kamikarte never holds or invents insurance data,
-- and a line without it is billed under the combination 医事 chooses.
ALTER TABLE charge_lines ADD COLUMN insurance TEXT
    CHECK (insurance IS NULL OR (length(insurance) = 4 AND insurance GLOB '[0-9][0-9][0-9][0-9]'));
