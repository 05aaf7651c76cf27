-- replay-setup.sql — 100k rows over 10 daily partitions of fedbus_messages, for bench/replay.
-- Run on a database the broker migrated (schema 7 or later). The partitions
-- lie after those the broker made ahead: days 100-109 from now.
DO $$
DECLARE
  day0 bigint := (extract(epoch FROM now()) * 1000)::bigint + 100 * 86400000::bigint;
  lo text; hi text;
BEGIN
  FOR d IN 0..9 LOOP
    lo := lpad(to_hex(day0 + d * 86400000::bigint), 12, '0') || '00000000000000000000';
    hi := lpad(to_hex(day0 + (d + 1) * 86400000::bigint), 12, '0') || '00000000000000000000';
    EXECUTE format('CREATE TABLE fedbus_messages_bench_%s (LIKE fedbus_messages INCLUDING DEFAULTS'
                   ' INCLUDING STORAGE INCLUDING CONSTRAINTS)', d);
    EXECUTE format('ALTER TABLE fedbus_messages ATTACH PARTITION fedbus_messages_bench_%s'
                   ' FOR VALUES FROM (%L) TO (%L)', d, lo::uuid, hi::uuid);
  END LOOP;
  -- global_seq in the order of the ids' times, as a broker numbers them;
  -- 20 agencies, one topic each: a prefix of one agency matches 5%.
  INSERT INTO fedbus_messages
  SELECT g, 'agency-' || (g % 20), g,
         (lpad(to_hex(day0 + (g * 8640)::bigint), 12, '0') || '7' || substr(md5(g::text), 1, 3) || '8'
          || substr(md5(g::text), 4, 15))::uuid,
         'event.agency-' || (g % 20) || '.forum', now(), now(), '\x00'::bytea,
         convert_to(repeat('x', 300), 'UTF8')
  FROM generate_series(1, 100000) g;
END $$;
ANALYZE fedbus_messages;
