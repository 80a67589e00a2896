"""Names the sandbox district is made of: people, places and subjects."""

from __future__ import annotations

GIVEN_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Charlotte",
    "Mateo", "Isabella", "Lucas", "Mia", "Levi", "Harper", "Ezra", "Evelyn", "Asher", "Luna",
    "James", "Camila", "Leo", "Gianna", "Santiago", "Aria", "Kai", "Chloé", "Mason", "Zoë",
    "Ethan", "Nora", "Aiden", "Hazel", "Jayden", "Layla", "Muhammad", "Aaliyah", "Omar",
    "Fatima", "Yusuf", "Amira", "Hiroshi", "Yuki", "Wei", "Mei", "Arjun", "Priya", "Rohan",
    "Ananya", "Kwame", "Ama", "Chidi", "Ngozi", "Tariq", "Leila", "Dmitri", "Anya", "Mikael",
    "Ingrid", "Sven", "Astrid", "José", "María", "Diego", "Lucía", "Joaquín", "Valentina",
    "Thabo", "Zanele", "Kofi", "Nia", "Malik", "Imani", "Seo-yeon", "Min-jun", "Thanh",
    "Linh", "Rafael", "Gabriela", "Tomasz", "Zofia", "Kacper", "Wiktoria", "Aleksander",
)
MIDDLE_INITIALS = "ABCDEFGHIJKLMNOPRSTW"
FAMILY_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Pérez", "Thompson", "White", "Harris", "Sánchez",
    "Clark", "Ramírez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker",
    "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "O'Brien", "Kowalski",
    "Nowak", "Wiśniewski", "Müller", "Schmidt", "Novak", "Okafor", "Mensah", "Adeyemi",
    "Haddad", "Khan", "Patel", "Sharma", "Singh", "Chen", "Wang", "Kim", "Park", "Tanaka",
    "Sato", "Yamamoto", "Tran", "Pham", "Ivanova", "Petrov", "Johansson", "Lindqvist",
    "Dubois", "Moreau", "Rossi", "Esposito", "Costa", "Silva", "Santos", "Ndlovu", "Dlamini",
)
PLACES = (
    "Maple Grove", "Cedar Ridge", "Lakeview", "Riverside", "Oak Hill", "Pine Valley",
    "Willow Creek", "Sunnyside", "Brookfield", "Harbor View", "Eastwood", "Westfield",
    "Highland Park", "Meadowbrook", "Stonebridge", "Fairmont", "Clearwater", "Aspen Heights",
    "Summit", "Greenfield", "Silver Lake", "Red Rock", "Bayside", "Foxhollow", "Kingsley",
    "Lincoln", "Roosevelt", "Jefferson", "Washington", "Franklin", "Hamilton", "Madison",
)
DISTRICT_NAME = "Riverbend Unified School District"
DOMAIN = "riverbend.example.edu"
CITIES = ("Springfield", "Riverside", "Fairview", "Georgetown", "Salem", "Madison",
          "Clinton", "Arlington", "Ashland", "Dover")
STATES = ("CA", "TX", "NY", "FL", "IL", "WA", "OR", "AZ", "CO", "MA")

# Grades and the four subjects each level of school teaches.
LEVELS = (
    ("Elementary", ("KG", "01", "02", "03", "04", "05"),
     (("English Language Arts", "ELA"), ("Mathematics", "MATH"), ("Science", "SCI"),
      ("Social Studies", "SS"))),
    ("Middle", ("06", "07", "08"),
     (("English", "ENG"), ("Mathematics", "MATH"), ("Science", "SCI"), ("History", "HIST"))),
    ("High", ("09", "10", "11", "12"),
     (("English", "ENG"), ("Mathematics", "MATH"), ("Science", "SCI"),
      ("World History", "HIST"))),
)
SUBJECT_CODES = {"ELA": "01001", "ENG": "01001", "MATH": "02001", "SCI": "03001",
                 "SS": "04001", "HIST": "04051"}
