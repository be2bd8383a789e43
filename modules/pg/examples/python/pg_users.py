# The seed's asyncpg program, for comparison with pg_users.c.
import asyncio, datetime, sys
import asyncpg

async def main(dsn):
    conn = await asyncpg.connect(dsn)
    await conn.execute('DROP TABLE IF EXISTS users')
    await conn.execute('''
        CREATE TABLE users(
            id serial PRIMARY KEY,
            name text,
            dob date
        )
    ''')
    await conn.execute('INSERT INTO users(name, dob) VALUES($1, $2)', 'Bob', datetime.date(1984, 3, 1))
    row = await conn.fetchrow('SELECT * FROM users WHERE name = $1', 'Bob')
    print(row)
    await conn.execute('DROP TABLE users')
    await conn.close()

asyncio.run(main(sys.argv[1]))
