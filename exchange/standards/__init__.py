"""The standards of protocol section 7 and the archive of section 8.

CDISC ODM 1.3.2 (`odm`), SDTM with Define-XML 2.1 (`sdtm`, `define`), the PDF casebook
(`casebook`) and the sealed archive written at the database lock (`archive`). Every one of
them is built from the rows of the CSV export (`exchange.rows`), never from a second
computation: `source.study_records` is the one place that reads them.
"""
