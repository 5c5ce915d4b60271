"""Product templates for the demo catalogue, grouped in pools by kind of farm.

Prices are typical farm-gate / farmers' market prices in Brittany (integer cents,
VAT included); the seeder moves each farm's prices a few percent up or down.
Seasons are the months a product is usually on sale in the west of France.
VAT: 5.5 % for food and non-alcoholic drinks, 20 % for cider, perry, pommeau,
mead, beer and spirits.
"""

from __future__ import annotations

from dataclasses import dataclass

FOOD_VAT_BP = 550
ALCOHOL_VAT_BP = 2000
ALL_YEAR: tuple[int, ...] = tuple(range(1, 13))


def months(first: int, last: int) -> tuple[int, ...]:
    """Months from first to last inclusive, wrapping over the new year: months(9, 3)."""
    out = [first]
    while out[-1] != last:
        out.append(out[-1] % 12 + 1)
    return tuple(out)


@dataclass(frozen=True)
class Template:
    name: str
    category: str  # a slug from marketplace.catalogue.reference.CATEGORIES
    season: tuple[int, ...]
    variants: tuple[tuple[str, int], ...]  # (label, price in cents)
    description: str = ""
    vat_bp: int = FOOD_VAT_BP


def T(name, category, season, variants, description="", vat_bp=FOOD_VAT_BP) -> Template:  # noqa: N802
    return Template(name, category, tuple(season), tuple(variants), description, vat_bp)


VEG = "vegetables"

POOLS: dict[str, list[Template]] = {
    # Market gardeners ----------------------------------------------------------
    "vegetables": [
        T("Tomates anciennes", VEG, months(6, 10),
          [("500 g", 350), ("1 kg", 650), ("Cagette 5 kg", 2800)],
          "Cœur de bœuf, Noire de Crimée, Green Zebra : un mélange de variétés anciennes "
          "cueillies mûres."),
        T("Tomates cerises", VEG, months(6, 10),
          [("Barquette 250 g", 290), ("Barquette 500 g", 540)],
          "Rouges, jaunes et noires, sucrées comme des bonbons."),
        T("Tomates à sauce (Roma)", VEG, months(7, 9), [("1 kg", 420), ("Cagette 5 kg", 1900)],
          "Chair dense et peu de jus : pour les coulis et les conserves."),
        T("Courgettes", VEG, months(6, 9), [("1 kg", 290), ("Cagette 5 kg", 1250)],
          "Vertes et jaunes, récoltées jeunes et fermes."),
        T("Aubergines", VEG, months(7, 9), [("la pièce", 150), ("1 kg", 490)]),
        T("Poivrons", VEG, months(7, 10), [("la pièce", 120), ("500 g", 390)],
          "Rouges et jaunes, mûris sur pied sous abri froid."),
        T("Concombres", VEG, months(5, 9), [("la pièce", 130)]),
        T("Haricots verts", VEG, months(6, 9), [("500 g", 390), ("1 kg", 720)],
          "Cueillis à la main deux fois par semaine."),
        T("Petits pois à écosser", VEG, months(5, 7), [("500 g", 420), ("1 kg", 790)]),
        T("Fèves", VEG, months(5, 6), [("1 kg", 450)]),
        T("Carottes nouvelles", VEG, months(5, 7), [("la botte", 230)],
          "Vendues avec leurs fanes, à croquer crues."),
        T("Carottes", VEG, months(8, 4), [("1 kg", 210), ("Sac 3 kg", 590)],
          "Carottes de plein champ, lavées."),
        T("Pommes de terre nouvelles", VEG, months(5, 8), [("1 kg", 290), ("Cagette 5 kg", 1300)],
          "Peau fine, à cuire à la vapeur avec un peu de beurre demi-sel."),
        T("Pommes de terre de conservation", VEG, months(9, 4),
          [("Sac 2,5 kg", 550), ("Sac 10 kg", 1800)],
          "Variétés à chair ferme et à purée, conservées en cave."),
        T("Oignons jaunes", VEG, months(7, 3), [("1 kg", 260)]),
        T("Échalotes", VEG, months(7, 4), [("500 g", 350)]),
        T("Ail rose", VEG, months(7, 2), [("la tête", 120), ("Tresse de 10 têtes", 1200)]),
        T("Poireaux", VEG, months(9, 4), [("1 kg", 320), ("la botte (3 pièces)", 290)]),
        T("Choux-fleurs", VEG, months(10, 4), [("la pièce", 290)],
          "Le chou-fleur breton, récolté à la main."),
        T("Brocolis", VEG, months(6, 11), [("la pièce", 250)]),
        T("Chou vert frisé", VEG, months(10, 3), [("la pièce", 250)]),
        T("Chou rouge", VEG, months(9, 2), [("la pièce", 260)]),
        T("Chou kale", VEG, months(10, 3), [("Botte 250 g", 280)]),
        T("Artichauts Camus de Bretagne", VEG, months(5, 10),
          [("la pièce", 160), ("Lot de 3", 430)],
          "Le gros artichaut breton, à cuire entier."),
        T("Épinards", VEG, (3, 4, 5, 9, 10, 11), [("500 g", 380)]),
        T("Salade batavia", VEG, months(4, 11), [("la pièce", 140)]),
        T("Laitue feuille de chêne", VEG, months(4, 11), [("la pièce", 140)]),
        T("Mâche", VEG, months(10, 3), [("Sachet 200 g", 330)]),
        T("Mesclun", VEG, months(3, 11), [("Sachet 150 g", 290)],
          "Jeunes pousses et fleurs comestibles, coupées le matin."),
        T("Radis roses", VEG, months(4, 10), [("la botte", 170)]),
        T("Navets nouveaux", VEG, (4, 5, 6, 9, 10, 11), [("la botte", 230)]),
        T("Betteraves rouges", VEG, months(7, 3), [("1 kg", 290)]),
        T("Courge butternut", VEG, months(9, 2), [("1 kg", 280), ("Cagette 5 kg", 1200)]),
        T("Potimarron", VEG, months(9, 2), [("la pièce", 350)],
          "Se cuisine avec la peau, goût de châtaigne."),
        T("Céleri-rave", VEG, months(10, 3), [("la pièce", 290)]),
        T("Panais", VEG, months(10, 3), [("1 kg", 390)]),
        T("Topinambours", VEG, months(11, 3), [("1 kg", 340)]),
        T("Fenouil", VEG, months(6, 10), [("la pièce", 160)]),
        T("Blettes", VEG, months(5, 11), [("la botte", 260)]),
        T("Persil plat", VEG, ALL_YEAR, [("la botte", 120)]),
        T("Ciboulette", VEG, months(3, 11), [("la botte", 120)]),
        T("Basilic", VEG, months(6, 9), [("la botte", 150), ("le pot", 350)]),
        T("Panier de légumes de saison", VEG, ALL_YEAR,
          [("Panier 4 kg", 1500), ("Panier 7 kg", 2400)],
          "Ce que le jardin donne cette semaine, composé le matin de la livraison."),
    ],
    "garden_preserves": [
        T("Soupe de légumes", "grocery", ALL_YEAR, [("Bocal 75 cl", 520)],
          "Légumes du jardin, un peu de crème, rien d'autre."),
        T("Coulis de tomates", "grocery", ALL_YEAR, [("Bocal 500 g", 490)]),
        T("Ratatouille", "grocery", ALL_YEAR, [("Bocal 650 g", 790)]),
        T("Pickles de légumes", "grocery", ALL_YEAR, [("Bocal 350 g", 550)]),
    ],
    "herbs": [
        T("Tisane verveine citronnelle", "grocery", ALL_YEAR, [("Sachet 30 g", 550)],
          "Feuilles entières séchées à l'ombre."),
        T("Tisane menthe poivrée", "grocery", ALL_YEAR, [("Sachet 30 g", 500)]),
        T("Tisane « Douce nuit »", "grocery", ALL_YEAR, [("Sachet 30 g", 600)],
          "Mélisse, camomille et tilleul."),
        T("Thym séché", "grocery", ALL_YEAR, [("Sachet 20 g", 350)]),
        T("Sel aux herbes", "grocery", ALL_YEAR, [("Pot 100 g", 450)]),
    ],
    # Orchards and cider makers -------------------------------------------------
    "orchard_fruit": [
        T("Pommes Reinette grise du Canada", "fruit", months(10, 3),
          [("1 kg", 290), ("Cagette 5 kg", 1250)], "Acidulée, parfaite pour les tartes."),
        T("Pommes Belchard", "fruit", months(9, 3), [("1 kg", 280), ("Cagette 5 kg", 1200)],
          "Croquante et sucrée, la pomme à croquer."),
        T("Pommes Elstar", "fruit", months(9, 1), [("1 kg", 280)]),
        T("Pommes Patte de loup", "fruit", months(10, 3), [("1 kg", 320)],
          "Vieille variété de l'Ouest, se garde tout l'hiver."),
        T("Pommes à cuire Boskoop", "fruit", months(10, 3), [("1 kg", 260)]),
        T("Poires Conférence", "fruit", months(9, 1), [("1 kg", 340)]),
        T("Poires Williams", "fruit", months(8, 9), [("1 kg", 360)]),
        T("Prunes Reine-Claude", "fruit", months(7, 8), [("500 g", 350), ("1 kg", 650)]),
        T("Cerises", "fruit", months(6, 7), [("Barquette 500 g", 650)]),
        T("Kiwis", "fruit", months(11, 3), [("1 kg", 420)]),
        T("Noix", "fruit", months(10, 2), [("500 g", 550), ("1 kg", 980)]),
        T("Châtaignes", "fruit", months(10, 11), [("1 kg", 600)]),
        T("Coings", "fruit", months(10, 11), [("1 kg", 350)]),
    ],
    "small_fruit": [
        T("Fraises Gariguette", "fruit", months(4, 6),
          [("Barquette 250 g", 390), ("Barquette 500 g", 720)], "Cueillies le matin même."),
        T("Fraises Mara des bois", "fruit", months(6, 10), [("Barquette 250 g", 420)],
          "Le parfum de la fraise des bois, jusqu'aux premières gelées."),
        T("Framboises", "fruit", months(6, 10),
          [("Barquette 125 g", 350), ("Barquette 250 g", 650)]),
        T("Myrtilles", "fruit", months(7, 8),
          [("Barquette 125 g", 350), ("Barquette 250 g", 650)]),
        T("Cassis", "fruit", (7,), [("Barquette 250 g", 450)]),
        T("Groseilles", "fruit", months(6, 7), [("Barquette 250 g", 420)]),
        T("Mûres", "fruit", months(8, 9), [("Barquette 125 g", 320)]),
        T("Rhubarbe", "fruit", months(4, 7), [("la botte", 300), ("1 kg", 450)]),
        T("Confiture de fraises", "honey", ALL_YEAR, [("Pot 250 g", 450), ("Pot 370 g", 590)],
          "60 % de fruits, cuite en petite bassine."),
        T("Confiture de framboises", "honey", ALL_YEAR, [("Pot 250 g", 490)]),
        T("Confiture de mûres", "honey", ALL_YEAR, [("Pot 250 g", 470)]),
        T("Confiture de rhubarbe", "honey", ALL_YEAR, [("Pot 250 g", 430)]),
        T("Gelée de groseilles", "honey", ALL_YEAR, [("Pot 250 g", 480)]),
        T("Sirop de sureau", "drinks", ALL_YEAR, [("Bouteille 50 cl", 750)],
          "Fleurs de sureau cueillies en juin, à allonger d'eau fraîche."),
    ],
    "cider": [
        T("Cidre brut fermier", "drinks", ALL_YEAR,
          [("Bouteille 75 cl", 480), ("Caisse 6 × 75 cl", 2700)],
          "Pommes à cidre du verger, fermentation lente, non pasteurisé.", ALCOHOL_VAT_BP),
        T("Cidre doux fermier", "drinks", ALL_YEAR, [("Bouteille 75 cl", 480)],
          "2,5 % vol., fruité et peu sucré.", ALCOHOL_VAT_BP),
        T("Poiré", "drinks", ALL_YEAR, [("Bouteille 75 cl", 590)], "", ALCOHOL_VAT_BP),
        T("Lambig", "drinks", ALL_YEAR, [("Bouteille 50 cl", 2900), ("Bouteille 70 cl", 3900)],
          "Eau-de-vie de cidre vieillie en fût de chêne.", ALCOHOL_VAT_BP),
        T("Jus de pomme", "drinks", ALL_YEAR, [("Bouteille 1 L", 320), ("Bag-in-box 5 L", 1350)],
          "Pur jus, sans sucre ajouté."),
        T("Jus de pomme pétillant", "drinks", ALL_YEAR, [("Bouteille 75 cl", 390)]),
    ],
    "pommeau": [
        T("Pommeau de Bretagne", "drinks", ALL_YEAR,
          [("Bouteille 35 cl", 950), ("Bouteille 70 cl", 1650)],
          "Moût de pomme et lambig, vieilli en fût. AOP.", ALCOHOL_VAT_BP),
    ],
    "orchard_grocery": [
        T("Vinaigre de cidre", "grocery", ALL_YEAR, [("Bouteille 50 cl", 390)]),
        T("Compote de pommes", "grocery", ALL_YEAR, [("Bocal 500 g", 450)],
          "Sans sucre ajouté."),
        T("Gelée de pommes au cidre", "honey", ALL_YEAR, [("Pot 250 g", 450)]),
    ],
    # Dairy, cheese -------------------------------------------------------------
    "dairy": [
        T("Lait cru entier", "dairy", ALL_YEAR, [("Bouteille 1 L", 140)],
          "Trait le matin, à conserver au froid et à consommer sous 3 jours."),
        T("Lait ribot", "dairy", ALL_YEAR, [("Bouteille 1 L", 190)],
          "Le lait fermenté breton, à boire frais avec une galette."),
        T("Yaourts nature", "dairy", ALL_YEAR, [("Lot de 4 × 125 g", 260), ("Pot 1 kg", 550)]),
        T("Yaourts aux fruits", "dairy", ALL_YEAR, [("Lot de 4 × 125 g", 320)],
          "Fraise, framboise ou myrtille selon la saison."),
        T("Fromage blanc", "dairy", ALL_YEAR, [("Pot 500 g", 330), ("Pot 1 kg", 590)]),
        T("Crème fraîche épaisse", "dairy", ALL_YEAR, [("Pot 25 cl", 290), ("Pot 50 cl", 520)]),
        T("Beurre demi-sel", "dairy", ALL_YEAR, [("Motte 250 g", 380), ("Motte 500 g", 720)],
          "Baratté à la ferme, au sel de Guérande."),
        T("Beurre doux", "dairy", ALL_YEAR, [("Motte 250 g", 360)]),
        T("Riz au lait", "dairy", ALL_YEAR, [("Lot de 2 × 150 g", 340)]),
        T("Caramel au beurre salé", "grocery", ALL_YEAR, [("Pot 220 g", 590)]),
    ],
    "cow_cheese": [
        T("Tomme fermière", "cheese", ALL_YEAR,
          [("Portion 250 g", 520), ("Portion 500 g", 1000), ("Tomme entière 1,5 kg", 2850)],
          "Pâte pressée au lait cru, affinée trois mois en cave."),
        T("Tomme aux algues", "cheese", ALL_YEAR, [("Portion 250 g", 560)]),
        T("Fromage frais ail et fines herbes", "cheese", ALL_YEAR, [("Pot 150 g", 330)]),
        T("Raclette fermière", "cheese", months(10, 3), [("Tranches 400 g", 890)]),
        T("Petit crémeux", "cheese", ALL_YEAR, [("la pièce (200 g)", 480)],
          "Pâte molle à croûte fleurie, affiné trois semaines."),
    ],
    "goat": [
        T("Crottin de chèvre frais", "cheese", months(3, 11),
          [("la pièce", 230), ("Lot de 4", 850)],
          "Moulé à la louche, à déguster dans la semaine."),
        T("Chèvre demi-sec", "cheese", months(3, 12), [("la pièce", 250)]),
        T("Chèvre affiné", "cheese", months(4, 12), [("la pièce", 280)]),
        T("Bûche cendrée", "cheese", months(3, 11), [("la pièce (180 g)", 450)]),
        T("Faisselle de chèvre", "cheese", months(3, 10), [("Pot 400 g", 380)]),
        T("Tomme de chèvre", "cheese", ALL_YEAR, [("Portion 250 g", 690)]),
        T("Lait de chèvre", "dairy", months(3, 11), [("Bouteille 1 L", 220)]),
        T("Yaourts au lait de chèvre", "dairy", months(3, 11), [("Lot de 4 × 125 g", 360)]),
        T("Viande de chevreau", "meat", months(3, 4), [("Colis 2 kg", 3600)],
          "Chevreaux de la ferme, élevés sous la mère."),
    ],
    # Meat ------------------------------------------------------------------------
    "beef": [
        T("Colis de bœuf", "meat", ALL_YEAR, [("Colis 5 kg", 8500), ("Colis 10 kg", 16000)],
          "Un assortiment à griller, à rôtir et à mijoter, sous vide. Livraison le mois "
          "suivant la commande."),
        T("Steaks hachés", "meat", ALL_YEAR, [("Lot de 4 × 125 g", 790)]),
        T("Entrecôte", "meat", ALL_YEAR, [("2 pièces (≈ 500 g)", 1450)]),
        T("Côte de bœuf", "meat", ALL_YEAR, [("la pièce (≈ 1,2 kg)", 3800)],
          "Maturée trois semaines."),
        T("Rôti de bœuf", "meat", ALL_YEAR, [("1 kg", 2800)]),
        T("Bœuf bourguignon", "meat", ALL_YEAR, [("1 kg", 1650)]),
        T("Pot-au-feu", "meat", months(10, 3), [("1,5 kg", 1950)]),
    ],
    "veal": [
        T("Colis de veau", "meat", (3, 4, 5, 9, 10, 11), [("Colis 5 kg", 9500)],
          "Veau élevé sous la mère, lait et herbe."),
        T("Escalopes de veau", "meat", (3, 4, 5, 9, 10, 11), [("2 × 150 g", 980)]),
        T("Blanquette de veau", "meat", (3, 4, 5, 9, 10, 11), [("1 kg", 1890)]),
    ],
    "pork": [
        T("Colis de porc", "meat", ALL_YEAR, [("Colis 5 kg", 5600)],
          "Porcs élevés sur paille, nourris aux céréales de la ferme."),
        T("Côtes de porc", "meat", ALL_YEAR, [("2 pièces (≈ 500 g)", 690)]),
        T("Rôti de porc", "meat", ALL_YEAR, [("1 kg", 1390)]),
        T("Saucisses", "meat", ALL_YEAR, [("Lot de 6 (≈ 600 g)", 890)]),
        T("Chipolatas", "meat", months(4, 9), [("Lot de 8 (≈ 500 g)", 790)],
          "Pour le barbecue."),
        T("Poitrine fumée", "meat", ALL_YEAR, [("Tranches 300 g", 560)]),
        T("Jambon blanc", "meat", ALL_YEAR, [("4 tranches", 720)]),
        T("Andouille de Guémené", "meat", ALL_YEAR, [("la pièce (≈ 500 g)", 1450)],
          "Fumée au bois de hêtre, montée à la main."),
        T("Pâté de campagne", "meat", ALL_YEAR, [("Bocal 180 g", 420), ("Bocal 350 g", 720)]),
        T("Rillettes de porc", "meat", ALL_YEAR, [("Pot 200 g", 450)]),
        T("Boudin noir", "meat", months(10, 4), [("500 g", 690)]),
    ],
    "lamb": [
        T("Colis d'agneau", "meat", (3, 4, 5, 6, 10, 11, 12),
          [("Colis 4 kg", 7900), ("Demi-agneau (≈ 8 kg)", 14500)],
          "Agneaux nés et élevés à l'herbe sur la ferme."),
        T("Gigot d'agneau", "meat", (3, 4, 5, 6, 10, 11, 12), [("la pièce (≈ 2 kg)", 4400)]),
        T("Côtelettes d'agneau", "meat", (3, 4, 5, 6, 10, 11, 12), [("6 pièces", 1590)]),
        T("Merguez d'agneau", "meat", months(4, 9), [("Lot de 6 (≈ 600 g)", 990)]),
        T("Yaourts au lait de brebis", "dairy", months(2, 9), [("Lot de 4 × 125 g", 390)]),
        T("Tomme de brebis", "cheese", ALL_YEAR, [("Portion 250 g", 790)]),
    ],
    # Poultry, eggs ------------------------------------------------------------------
    "poultry": [
        T("Poulet fermier", "poultry", ALL_YEAR,
          [("la pièce (≈ 1,8 kg)", 1850), ("la pièce (≈ 2,3 kg)", 2350)],
          "Élevé en plein air au moins 81 jours, prêt à cuire."),
        T("Cuisses de poulet", "poultry", ALL_YEAR, [("2 pièces (≈ 600 g)", 790)]),
        T("Filets de poulet", "poultry", ALL_YEAR, [("2 pièces (≈ 350 g)", 890)]),
        T("Pintade fermière", "poultry", ALL_YEAR, [("la pièce (≈ 1,5 kg)", 1950)]),
        T("Canette", "poultry", months(9, 4), [("la pièce (≈ 2 kg)", 2400)]),
        T("Magret de canard", "poultry", months(9, 4), [("la pièce (≈ 350 g)", 1150)]),
        T("Chapon fermier", "poultry", (12,), [("la pièce (≈ 3,5 kg)", 6500)],
          "Pour les fêtes : à réserver avant le 15 décembre."),
        T("Dinde fermière", "poultry", (12,), [("la pièce (≈ 4 kg)", 6800)]),
        T("Oie fermière", "poultry", months(11, 12), [("la pièce (≈ 4,5 kg)", 8500)]),
        T("Poule à bouillir", "poultry", ALL_YEAR, [("la pièce", 1200)],
          "Pour la poule au pot et les bouillons."),
        T("Rillettes de poulet", "poultry", ALL_YEAR, [("Pot 180 g", 450)]),
    ],
    "eggs": [
        T("Œufs plein air", "eggs", ALL_YEAR,
          [("Boîte de 6", 230), ("la douzaine", 430), ("Plateau de 30", 990)],
          "Poules en plein air sur parcours herbeux, ramassés chaque matin."),
        T("Œufs extra-frais", "eggs", ALL_YEAR, [("Boîte de 6", 250), ("la douzaine", 470)],
          "Pondus depuis moins de 9 jours."),
        T("Œufs de cane", "eggs", months(3, 7), [("Boîte de 6", 390)]),
        T("Œufs de caille", "eggs", ALL_YEAR, [("Boîte de 12", 350)]),
    ],
    # Bakers and millers -----------------------------------------------------------
    "bread": [
        T("Pain de campagne au levain", "bread", ALL_YEAR, [("500 g", 320), ("1 kg", 590)],
          "Farine de blé de la ferme moulue sur meule de pierre, cuit au feu de bois."),
        T("Pain complet", "bread", ALL_YEAR, [("500 g", 330), ("1 kg", 620)]),
        T("Pain de seigle", "bread", ALL_YEAR, [("500 g", 380)]),
        T("Pain au sarrasin", "bread", ALL_YEAR, [("500 g", 390)],
          "Un quart de farine de blé noir, mie dense et parfumée."),
        T("Pain aux graines", "bread", ALL_YEAR, [("500 g", 410)]),
        T("Baguette de tradition", "bread", ALL_YEAR, [("la pièce", 130)]),
        T("Kouign-amann", "bread", ALL_YEAR, [("la part", 330), ("Entier (6 parts)", 1500)],
          "Pâte à pain, beurre demi-sel et sucre caramélisé."),
        T("Far breton aux pruneaux", "bread", ALL_YEAR,
          [("la part", 280), ("Entier (8 parts)", 1600)]),
        T("Gâteau breton", "bread", ALL_YEAR, [("Gâteau 400 g", 950)]),
        T("Brioche au beurre", "bread", ALL_YEAR, [("la pièce (500 g)", 690)]),
        T("Crêpes de froment", "bread", ALL_YEAR, [("la douzaine", 650)]),
        T("Galettes de blé noir", "bread", ALL_YEAR, [("la douzaine", 690)],
          "Farine de sarrasin, eau, sel : la galette bretonne, prête à garnir."),
        T("Sablés bretons", "bread", ALL_YEAR, [("Sachet 200 g", 450)]),
        T("Pain d'épices au miel", "bread", months(10, 3), [("Pavé 300 g", 690)]),
    ],
    "flour": [
        T("Farine de blé T80", "grocery", ALL_YEAR, [("Sac 1 kg", 280), ("Sac 5 kg", 1200)],
          "Blé population cultivé et moulu à la ferme."),
        T("Farine de sarrasin", "grocery", ALL_YEAR, [("Sac 1 kg", 420)],
          "Blé noir de Bretagne, pour galettes et pains."),
        T("Farine de seigle T130", "grocery", ALL_YEAR, [("Sac 1 kg", 330)]),
        T("Pâtes fermières", "grocery", ALL_YEAR, [("Sachet 500 g", 390)]),
        T("Huile de colza", "grocery", ALL_YEAR, [("Bouteille 50 cl", 550), ("Bidon 1 L", 950)],
          "Première pression à froid."),
        T("Lentilles vertes", "grocery", ALL_YEAR, [("Sachet 500 g", 390)]),
        T("Flocons d'avoine", "grocery", ALL_YEAR, [("Sachet 500 g", 320)]),
        T("Sarrasin décortiqué", "grocery", ALL_YEAR, [("Sachet 500 g", 450)]),
    ],
    # Beekeepers -------------------------------------------------------------------------
    "honey": [
        T("Miel de printemps", "honey", ALL_YEAR,
          [("Pot 250 g", 590), ("Pot 500 g", 990), ("Pot 1 kg", 1790)],
          "Colza, aubépine et fruitiers : un miel clair qui cristallise finement."),
        T("Miel de châtaignier", "honey", ALL_YEAR, [("Pot 250 g", 620), ("Pot 500 g", 1090)],
          "Corsé et peu sucré."),
        T("Miel de bruyère", "honey", ALL_YEAR, [("Pot 250 g", 690)],
          "Récolté fin août sur les landes."),
        T("Miel de sarrasin", "honey", ALL_YEAR, [("Pot 250 g", 650)]),
        T("Miel de bourdaine", "honey", ALL_YEAR, [("Pot 500 g", 1150)]),
        T("Miel crémeux", "honey", ALL_YEAR, [("Pot 500 g", 990)]),
        T("Miel en rayon", "honey", months(6, 9), [("la pièce (≈ 400 g)", 1400)]),
        T("Pollen de fleurs", "honey", ALL_YEAR, [("Pot 250 g", 1250)]),
        T("Hydromel", "drinks", ALL_YEAR, [("Bouteille 75 cl", 1490)],
          "Vin de miel, à servir frais en apéritif.", ALCOHOL_VAT_BP),
        T("Pain d'épices au miel", "bread", months(10, 3), [("Pavé 300 g", 690)]),
    ],
    # Sea -------------------------------------------------------------------------------
    "oysters": [
        T("Huîtres creuses n°3", "fish", ALL_YEAR,
          [("la douzaine", 850), ("Bourriche 3 douzaines", 2300)],
          "Élevées en poches sur tables, affinées en rivière."),
        T("Huîtres creuses n°2", "fish", ALL_YEAR, [("la douzaine", 990)]),
        T("Huîtres plates", "fish", months(9, 4), [("la douzaine", 1800)],
          "L'huître native de Bretagne, en petite quantité."),
        T("Moules de bouchot", "fish", months(7, 1), [("1 kg", 450), ("Seau 3 kg", 1200)]),
        T("Palourdes", "fish", months(10, 3), [("500 g", 1190)]),
    ],
    "salt": [
        T("Fleur de sel", "grocery", ALL_YEAR, [("Pot 125 g", 490), ("Sac 500 g", 1300)],
          "Cueillie à la main à la surface des œillets, l'été."),
        T("Gros sel gris", "grocery", ALL_YEAR, [("Sac 1 kg", 350)]),
        T("Sel aux algues", "grocery", ALL_YEAR, [("Pot 100 g", 520)]),
        T("Salicorne fraîche", VEG, months(5, 8), [("Barquette 200 g", 350)],
          "Cueillie sur les bords des bassins, à croquer crue ou poêlée."),
        T("Salicorne au vinaigre", "grocery", ALL_YEAR, [("Bocal 200 g", 590)]),
    ],
    # Farm brewery -------------------------------------------------------------------------
    "beer": [
        T("Bière blonde", "drinks", ALL_YEAR,
          [("Bouteille 33 cl", 290), ("Bouteille 75 cl", 590), ("Pack 6 × 33 cl", 1650)],
          "Orge de la ferme maltée en Bretagne, refermentée en bouteille.", ALCOHOL_VAT_BP),
        T("Bière ambrée au blé noir", "drinks", ALL_YEAR,
          [("Bouteille 33 cl", 310), ("Bouteille 75 cl", 620)], "", ALCOHOL_VAT_BP),
        T("Bière blanche", "drinks", ALL_YEAR, [("Bouteille 33 cl", 290)], "", ALCOHOL_VAT_BP),
        T("Bière de printemps", "drinks", months(3, 6), [("Bouteille 75 cl", 650)],
          "Brassin de saison houblonné à cru.", ALCOHOL_VAT_BP),
        T("Bière de Noël", "drinks", months(11, 12), [("Bouteille 75 cl", 690)], "",
          ALCOHOL_VAT_BP),
        T("Limonade artisanale", "drinks", ALL_YEAR, [("Bouteille 33 cl", 220)],
          "Citron, sucre de canne, eau pétillante."),
    ],
}

# Kinds of farm for the large synthetic set: the pools each kind sells from, and
# how common it is.
FARM_KINDS: dict[str, tuple[tuple[str, ...], int]] = {
    "market_garden": (("vegetables", "garden_preserves"), 30),
    "orchard": (("orchard_fruit", "cider", "orchard_grocery"), 10),
    "small_fruit": (("small_fruit",), 4),
    "dairy": (("dairy", "cow_cheese"), 8),
    "goat": (("goat",), 6),
    "beef": (("beef", "veal"), 8),
    "pork": (("pork",), 6),
    "lamb": (("lamb",), 3),
    "poultry": (("poultry", "eggs"), 10),
    "bakery": (("bread", "flour"), 7),
    "beekeeper": (("honey", "small_fruit"), 5),
    "mill": (("flour",), 2),
    "brewery": (("beer",), 1),
}

# Words appended to repeated product names in the large set, by category.
QUALIFIERS: dict[str, tuple[str, ...]] = {
    "vegetables": ("de plein champ", "sous abri", "extra", "petit calibre", "en vrac"),
    "fruit": ("extra", "à croquer", "à cuire", "petit calibre", "déclassées"),
    "dairy": ("au lait entier", "nature", "format familial", "au lait cru"),
    "cheese": ("jeune", "affiné", "extra-affiné", "au lait cru"),
    "meat": ("à griller", "à mijoter", "sous vide", "format familial"),
    "poultry": ("format familial", "sous vide", "prêt à cuire", "découpé"),
    "fish": ("calibre moyen", "gros calibre", "extra"),
    "eggs": ("gros calibre", "calibre moyen", "de la semaine"),
    "bread": ("cuit au feu de bois", "demi-pièce", "tranché", "du jour"),
    "honey": ("récolte d'été", "récolte de printemps", "toutes fleurs", "format familial"),
    "drinks": ("cuvée spéciale", "édition limitée", "millésimé"),
    "grocery": ("format familial", "en vrac", "recharge"),
}
